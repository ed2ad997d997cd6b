/*  series.c — see series.h. The Ubuntu releases from 12.04 on. */
#include "common/series.h"

#include <string.h>

static const struct {
    const char *series;
    const char *version;
} s_ubuntu[] = {
    {"precise", "12.04"}, {"quantal", "12.10"}, {"raring", "13.04"},  {"saucy", "13.10"},
    {"trusty", "14.04"},  {"utopic", "14.10"},  {"vivid", "15.04"},   {"wily", "15.10"},
    {"xenial", "16.04"},  {"yakkety", "16.10"}, {"zesty", "17.04"},   {"artful", "17.10"},
    {"bionic", "18.04"},  {"cosmic", "18.10"},  {"disco", "19.04"},   {"eoan", "19.10"},
    {"focal", "20.04"},   {"groovy", "20.10"},  {"hirsute", "21.04"}, {"impish", "21.10"},
    {"jammy", "22.04"},   {"kinetic", "22.10"}, {"lunar", "23.04"},   {"mantic", "23.10"},
    {"noble", "24.04"},   {"oracular", "24.10"}, {"plucky", "25.04"},
};

#define S_COUNT (sizeof s_ubuntu / sizeof s_ubuntu[0])

const char *
en_series_version(const char *series)
{
    for (size_t i = 0; series && i < S_COUNT; i++)
        if (strcmp(s_ubuntu[i].series, series) == 0)
            return s_ubuntu[i].version;
    return NULL;
}

const char *
en_series_from_version(const char *version)
{
    for (size_t i = 0; version && i < S_COUNT; i++)
        if (strcmp(s_ubuntu[i].version, version) == 0)
            return s_ubuntu[i].series;
    return NULL;
}
