/* codes.h -- reading the serial code printed or marked on a part: Data
 * Matrix through libdmtx, QR and 1D barcodes through zbar.
 *
 * A reader is made once per camera and reused: zbar's scanner keeps its
 * decoder tables between calls and the grey copy of the region is kept at
 * its largest size. libdmtx's search is slow on big images, so callers scan
 * only the part's box and the reader bounds each Data Matrix search by the
 * timeout given at creation. Decoded text is untrusted input headed for
 * JSON attrs: anything outside printable ASCII comes back as '?'. */
#ifndef MW_VISION_CODES_H
#define MW_VISION_CODES_H

#include "vision/vision.h"

enum code_symbology {
	CODE_DATAMATRIX = 1,
	CODE_QR = 2,
	CODE_BARCODE = 4, /* EAN/UPC, Code 128, Code 39, Code 93, Interleaved 2 of 5, Codabar */
};
#define CODE_ALL (CODE_DATAMATRIX | CODE_QR | CODE_BARCODE)
#define CODE_TEXT_MAX 128

struct code_result {
	enum code_symbology sym;
	char text[CODE_TEXT_MAX]; /* printable ASCII, NUL-terminated, cut at 127 bytes */
	struct bbox box;	  /* where the code lies, relative to the region scanned */
};

struct code_reader;

/* symbologies: a mask of enum code_symbology (non-zero, no other bits);
 * dmtx_timeout_ms: the longest one Data Matrix search may take, > 0. */
int code_reader_new(unsigned symbologies, int64_t dmtx_timeout_ms,
		    struct code_reader **out) MW_MUST_CHECK;
/* Decodes the codes found in region, at most max of them into out.
 * Returns how many (0 when none) or a negative enum mw_err. */
int code_reader_scan(struct code_reader *r, const struct plane *region, struct code_result *out,
		     int max) MW_MUST_CHECK;
void code_reader_free(struct code_reader *r);

/* "datamatrix", "qr" or "barcode". */
const char *code_symbology_name(enum code_symbology sym);

#endif
