/* db.c -- helpers shared by every storage backend (see db.h). */
#include "hub/db.h"

#include <stdlib.h>

void db_page_free(struct db_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		event_clear(&p->events[i]);
	free(p->events);
	free(p->ids);
	p->events = NULL;
	p->ids = NULL;
	p->n = 0;
	p->more = false;
}
