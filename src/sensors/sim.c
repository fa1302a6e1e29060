/* placeholder until the module lands */ typedef int mw__sensors_placeholder;
