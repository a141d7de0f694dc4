/* The state machine registry. */
#include "store/registry.h"

#include <string.h>

static bool s_valid_name(const char *name)
{
    const char *colon = strchr(name, ':');
    if (!colon || colon == name || colon[1] == '\0' || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!(c == ':' || c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return strchr(colon + 1, ':') == NULL;
}

lt_err_t lt_registry_add(lt_registry_t *r, const lt_sm_type_t *t)
{
    if (!t || !t->name || !t->apply || !s_valid_name(t->name))
        return LT_EINVAL;
    if (lt_registry_find(r, t->name))
        return LT_EEXIST;
    if (r->n == LT_MAX_SM_TYPES)
        return LT_EFULL;
    r->types[r->n++] = t;
    return LT_OK;
}

const lt_sm_type_t *lt_registry_find(const lt_registry_t *r, const char *name)
{
    for (unsigned i = 0; i < r->n; i++)
        if (strcmp(r->types[i]->name, name) == 0)
            return r->types[i];
    return NULL;
}

lt_err_t lt_registry_add_core(lt_registry_t *r)
{
    lt_err_t rc = lt_registry_add(r, &lt_kvstore_type);
    return rc ? rc : lt_registry_add(r, &lt_logstore_type);
}
