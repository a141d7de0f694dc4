/* State machine types, registered by name ("namespace:name") in each db. A
 * type applies the app payload of every witnessed intention of its stores to
 * the store's projection, inside the transaction that witnesses it. Built-in
 * types are core:kvstore and core:logstore; a later Wasm machine joins the
 * same table. */
#ifndef LT_REGISTRY_H
#define LT_REGISTRY_H

#include "store/store.h"
#include "store/txn.h"

/* What an apply handler gets: the store, the transaction, the intention. */
typedef struct {
    lt_store_t *st;
    lt_txn_t *txn;
    const lt_signed_t *in;
    uint64_t seq;
} lt_apply_t;

typedef struct lt_sm_type {
    const char *name;        /* "core:kvstore" */
    const char *description; /* schema description the CLI can show */
    /* Applies one app payload. LT_EPAYLOAD: the payload is malformed; the
     * intention stays witnessed and changes nothing (every node does the same).
     * Any other error aborts the transaction. */
    lt_err_t (*apply)(const lt_apply_t *a, const uint8_t *app, size_t len);
} lt_sm_type_t;

#define LT_MAX_SM_TYPES 16

typedef struct {
    const lt_sm_type_t *types[LT_MAX_SM_TYPES];
    unsigned n;
} lt_registry_t;

/* Registers a type (the pointer must outlive the registry). LT_EEXIST for a
 * duplicate name, LT_EFULL past LT_MAX_SM_TYPES, LT_EINVAL for a bad name. */
LT_NODISCARD lt_err_t lt_registry_add(lt_registry_t *r, const lt_sm_type_t *t);
const lt_sm_type_t *lt_registry_find(const lt_registry_t *r, const char *name);
/* Adds core:kvstore and core:logstore. */
LT_NODISCARD lt_err_t lt_registry_add_core(lt_registry_t *r);

extern const lt_sm_type_t lt_kvstore_type;
extern const lt_sm_type_t lt_logstore_type;

#endif
