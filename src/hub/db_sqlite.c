typedef int mw__hub_placeholder;
