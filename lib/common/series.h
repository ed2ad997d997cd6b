/*  series.h — Ubuntu series names and their versions (Juju 2.x names a
    release by series in its API: "jammy"; simplestreams by version:
    "22.04"). */
#ifndef EN_SERIES_H
#define EN_SERIES_H

//  "jammy" → "22.04"; NULL when the series is not a known Ubuntu one.
const char *en_series_version(const char *series);
//  "22.04" → "jammy"; NULL when unknown.
const char *en_series_from_version(const char *version);

#endif
