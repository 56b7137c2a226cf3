/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The objects: the agent's identities, brought up to date at each search.
 * A search asks for the list (one round trip) and fetches only the
 * identities whose entry changed; a renewed identity becomes a new
 * generation of objects with new handles, and the old generation stays
 * reachable by its handles (a session that found it before the renewal
 * keeps signing with its key, which the agent finds by its hash during
 * the grace period) but is never found again.
 */
#include "module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds against a hostile or runaway agent: identities looked at per
 * search, and replaced generations kept reachable. */
#define MAX_IDENTITIES 1024
#define MAX_REPLACED 64

struct object *
object_find(struct module *m, CK_OBJECT_HANDLE handle)
{
    size_t lo = 0, hi = m->n_objects;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->objects[mid].handle < handle)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n_objects && m->objects[lo].handle == handle
               ? &m->objects[lo]
               : NULL;
}

static bool
object_current(const struct object *o)
{
    return o->generation != NULL ? o->generation->current : o->current;
}

/* With the lock held. Handles only grow, so the array stays sorted. */
static struct object *
object_add(struct module *m, enum object_kind kind, CK_SLOT_ID slot)
{
    struct object *grown =
        realloc(m->objects, (m->n_objects + 1) * sizeof(*m->objects));
    if (grown == NULL)
        return NULL;
    m->objects = grown;
    struct object *o = &m->objects[m->n_objects++];
    *o =
        (struct object){.handle = m->next_object++, .kind = kind, .slot = slot};
    return o;
}

static void
object_clear(struct object *o)
{
    if (o->authority != NULL) {
        cert_view_clear(o->authority);
        free(o->authority);
    }
}

/* With the lock held: drops the objects made from g (or, g NULL, every
 * authority that is not current), keeping the order. */
static void
objects_drop(struct module *m, const struct generation *g)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->n_objects; i++) {
        struct object *o = &m->objects[i];
        bool drop = g != NULL ? o->generation == g
                              : o->kind == OBJECT_AUTHORITY && !o->current;
        if (drop)
            object_clear(o);
        else
            m->objects[kept++] = *o;
    }
    m->n_objects = kept;
}

static struct generation *
current_generation(struct module *m, const char *name)
{
    for (size_t i = 0; i < m->n_generations; i++) {
        struct generation *g = m->generations[i];
        if (g->current && strcmp(g->name, name) == 0)
            return g;
    }
    return NULL;
}

static bool
same_generation(const struct generation *a, const struct generation *b)
{
    return a->slot == b->slot &&
           memcmp(a->key_hash, b->key_hash, sizeof(a->key_hash)) == 0 &&
           a->leaf.der.len == b->leaf.der.len &&
           (a->leaf.der.len == 0 ||
            memcmp(a->leaf.der.data, b->leaf.der.data, a->leaf.der.len) == 0);
}

/* With the lock held: the oldest replaced generations beyond the bound go,
 * and their handles with them. */
static void
prune_replaced(struct module *m)
{
    size_t replaced = 0;
    for (size_t i = 0; i < m->n_generations; i++)
        replaced += !m->generations[i]->current;
    size_t kept = 0;
    for (size_t i = 0; i < m->n_generations; i++) {
        struct generation *g = m->generations[i];
        if (!g->current && replaced > MAX_REPLACED) {
            replaced--;
            objects_drop(m, g);
            generation_free(g);
        } else {
            m->generations[kept++] = g;
        }
    }
    m->n_generations = kept;
}

/* With the lock held: g becomes the identity's current generation. */
static void
install(struct module *m, struct generation *g,
        const struct tessera_identity_summary *s)
{
    struct slot *slot = slot_of_token(m, s->token_label, s->token_manufacturer,
                                      s->token_model, s->token_serial);
    struct generation *old = current_generation(m, g->name);
    if (slot != NULL)
        g->slot = slot->id;
    if (slot == NULL || (old != NULL && same_generation(old, g))) {
        /* A token no slot shows yet (it gets one at the next slot
         * list), or another search installed the same one first. */
        if (old != NULL)
            memcpy(old->seen, g->seen, sizeof(old->seen));
        generation_free(g);
        return;
    }
    struct generation **grown = realloc(
        m->generations, (m->n_generations + 1) * sizeof(*m->generations));
    if (grown == NULL) {
        generation_free(g);
        return;
    }
    m->generations = grown;
    m->generations[m->n_generations++] = g;
    if (old != NULL)
        old->current = false;
    g->current = true;
    struct object *o;
    if (g->has_cert && (o = object_add(m, OBJECT_CERT, g->slot)) != NULL) {
        o->generation = g;
        g->cert = o->handle;
    }
    if ((o = object_add(m, OBJECT_PUBLIC, g->slot)) != NULL) {
        o->generation = g;
        g->public = o->handle;
    }
    if ((o = object_add(m, OBJECT_PRIVATE, g->slot)) != NULL) {
        o->generation = g;
        g->private = o->handle;
    }
    prune_replaced(m);
}

static struct object *
authority_object(struct module *m, CK_SLOT_ID slot, const struct cert_view *c)
{
    for (size_t i = 0; i < m->n_objects; i++) {
        struct object *o = &m->objects[i];
        if (o->kind == OBJECT_AUTHORITY && o->slot == slot &&
            o->authority->der.len == c->der.len &&
            memcmp(o->authority->der.data, c->der.data, c->der.len) == 0)
            return o;
    }
    return NULL;
}

/* With the lock held: one object per CA certificate and slot, current
 * while a current identity's chain holds it. */
static void
update_authorities(struct module *m, OSSL_LIB_CTX *libctx)
{
    for (size_t i = 0; i < m->n_objects; i++)
        m->objects[i].current = false;
    for (size_t i = 0; i < m->n_generations; i++) {
        const struct generation *g = m->generations[i];
        for (size_t j = 0; g->current && j < g->n_authorities; j++) {
            const struct cert_view *c = &g->authorities[j];
            struct object *o = authority_object(m, g->slot, c);
            if (o == NULL) {
                struct cert_view *copy = calloc(1, sizeof(*copy));
                if (copy == NULL ||
                    !cert_view_init(copy, c->der.data, c->der.len, libctx) ||
                    (o = object_add(m, OBJECT_AUTHORITY, g->slot)) == NULL) {
                    free(copy);
                    continue;
                }
                o->authority = copy;
            }
            o->current = true;
        }
    }
    objects_drop(m, NULL);
}

/* With the lock held: what the list says of login, per token. */
static void
note_login(struct module *m, const struct tessera_identity_summary *s)
{
    struct slot *slot = slot_of_token(m, s->token_label, s->token_manufacturer,
                                      s->token_model, s->token_serial);
    if (slot == NULL)
        return;
    if (s->flags & TESSERA_ID_LOGGED_IN)
        slot->token.flags |= TESSERA_TOKEN_LOGGED_IN;
    else
        slot->token.flags &= ~TESSERA_TOKEN_LOGGED_IN;
}

/*
 * With the lock held: marks the identities the list no longer has, and
 * returns the entries whose identity must be fetched (new or changed).
 */
static size_t
stale_entries(struct module *m, const struct tessera_identity_list *list,
              const struct tessera_identity_summary **stale)
{
    size_t n = list->n < MAX_IDENTITIES ? list->n : MAX_IDENTITIES, n_stale = 0;
    uint8_t fingerprint[TESSERA_KEY_HASH_LEN];
    for (size_t i = 0; i < m->n_generations; i++) {
        struct generation *g = m->generations[i];
        bool listed = false;
        for (size_t j = 0; g->current && !listed && j < n; j++)
            listed = strcmp(g->name, list->items[j].name) == 0;
        if (!listed)
            g->current = false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct tessera_identity_summary *s = &list->items[i];
        const struct generation *g = current_generation(m, s->name);
        note_login(m, s);
        if (g == NULL || !summary_fingerprint(s, m->libctx, fingerprint) ||
            memcmp(fingerprint, g->seen, sizeof(fingerprint)) != 0)
            stale[n_stale++] = s;
    }
    return n_stale;
}

void
objects_refresh(struct module *m)
{
    struct tessera_identity_list list;
    struct tessera_status st = {0};
    if (tessera_client_list(m->agent, &list, &st) < 0) {
        module_debug("%s", st.message); /* what was found stays */
        return;
    }
    const struct tessera_identity_summary **stale =
        calloc(list.n > 0 ? list.n : 1, sizeof(*stale));
    size_t n_stale = 0;
    module_lock();
    if (stale != NULL)
        n_stale = stale_entries(m, &list, stale);
    module_unlock();
    for (size_t i = 0; i < n_stale; i++) {
        struct tessera_identity id;
        char why[256];
        if (tessera_client_get_identity(m->agent, stale[i]->name, &id, &st) <
            0) {
            module_debug("%s", st.message);
            continue;
        }
        struct generation *g =
            generation_from_identity(&id, m->libctx, why, sizeof(why));
        if (g == NULL)
            module_debug("%s", why);
        module_lock();
        if (g != NULL) {
            install(m, g, &id.summary);
        } else {
            /* What it was is not what it is: show neither. */
            struct generation *old = current_generation(m, stale[i]->name);
            if (old != NULL)
                old->current = false;
        }
        module_unlock();
        tessera_identity_clear(&id);
    }
    module_lock();
    update_authorities(m, m->libctx);
    module_unlock();
    free(stale);
    tessera_identity_list_clear(&list);
}

void
objects_free(struct module *m)
{
    for (size_t i = 0; i < m->n_objects; i++)
        object_clear(&m->objects[i]);
    free(m->objects);
    for (size_t i = 0; i < m->n_generations; i++)
        generation_free(m->generations[i]);
    free(m->generations);
}

/* --- searching and reading */

/* With the lock held: whether a search in a session of slot finds o. */
static bool
findable(struct module *m, const struct object *o, CK_SLOT_ID slot)
{
    if (o->slot != slot || !object_current(o))
        return false;
    if (o->kind != OBJECT_PRIVATE)
        return true;
    const struct slot *s = slot_find(m, slot);
    return s != NULL && (s->token.flags & TESSERA_TOKEN_LOGGED_IN) &&
           !s->logged_out_here;
}

CK_RV
C_FindObjectsInit(CK_SESSION_HANDLE handle, CK_ATTRIBUTE_PTR template,
                  CK_ULONG count)
{
    CK_RV rv;
    struct module *m = module_enter(template != NULL || count == 0, &rv);
    if (m == NULL)
        return rv;
    objects_refresh(m);
    module_lock();
    struct session *s = session_find(m, handle);
    CK_OBJECT_HANDLE *found =
        s != NULL && !s->finding
            ? calloc(m->n_objects > 0 ? m->n_objects : 1, sizeof(*found))
            : NULL;
    if (s == NULL) {
        rv = CKR_SESSION_HANDLE_INVALID;
    } else if (s->finding) {
        rv = CKR_OPERATION_ACTIVE;
    } else if (found == NULL) {
        rv = CKR_HOST_MEMORY;
    } else {
        CK_ULONG n = 0;
        for (size_t i = 0; i < m->n_objects; i++) {
            const struct object *o = &m->objects[i];
            if (findable(m, o, s->slot) && object_matches(o, template, count))
                found[n++] = o->handle;
        }
        s->found = found;
        s->n_found = n;
        s->next_found = 0;
        s->finding = true;
    }
    module_unlock();
    module_leave(m);
    return rv;
}

/*
 * A call on a session's search: `step` runs on the session with the lock
 * held, if it has a search under way.
 */
static CK_RV
with_search(CK_SESSION_HANDLE handle, bool arguments_ok,
            void (*step)(struct session *s, void *arg), void *arg)
{
    CK_RV rv;
    struct module *m = module_enter(arguments_ok, &rv);
    if (m == NULL)
        return rv;
    module_lock();
    struct session *s = session_find(m, handle);
    if (s == NULL)
        rv = CKR_SESSION_HANDLE_INVALID;
    else if (!s->finding)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        step(s, arg);
    module_unlock();
    module_leave(m);
    return rv;
}

struct results {
    CK_OBJECT_HANDLE_PTR out;
    CK_ULONG max;
    CK_ULONG_PTR count;
};

static void
next_results(struct session *s, void *arg)
{
    struct results *r = arg;
    CK_ULONG n = 0;
    while (n < r->max && s->next_found < s->n_found)
        r->out[n++] = s->found[s->next_found++];
    *r->count = n;
}

CK_RV
C_FindObjects(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
              CK_ULONG_PTR count)
{
    struct results r = {out, max, count};
    return with_search(handle, count != NULL && (out != NULL || max == 0),
                       next_results, &r);
}

static void
end_search(struct session *s, void *arg)
{
    (void)arg;
    free(s->found);
    s->found = NULL;
    s->finding = false;
}

CK_RV
C_FindObjectsFinal(CK_SESSION_HANDLE handle)
{
    return with_search(handle, true, end_search, NULL);
}

/* One attribute into the caller's template entry; CKR_OK or its error. */
static CK_RV
read_attribute(const struct object *o, CK_ATTRIBUTE *a)
{
    union attribute_scratch scratch;
    const void *value;
    CK_ULONG len;
    switch (object_attribute(o, a->type, &scratch, &value, &len)) {
    case ATTRIBUTE_SENSITIVE:
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_SENSITIVE;
    case ATTRIBUTE_INVALID:
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_TYPE_INVALID;
    case ATTRIBUTE_FOUND:
        break;
    }
    if (a->pValue == NULL) {
        a->ulValueLen = len;
    } else if (a->ulValueLen < len) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    } else {
        if (len > 0)
            memcpy(a->pValue, value, len);
        a->ulValueLen = len;
    }
    return CKR_OK;
}

CK_RV
C_GetAttributeValue(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE object,
                    CK_ATTRIBUTE_PTR template, CK_ULONG count)
{
    CK_RV rv;
    struct module *m = module_enter(template != NULL || count == 0, &rv);
    if (m == NULL)
        return rv;
    module_lock();
    struct session *s = session_find(m, handle);
    const struct object *o = object_find(m, object);
    if (s == NULL) {
        rv = CKR_SESSION_HANDLE_INVALID;
    } else if (o == NULL || o->slot != s->slot) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    } else {
        /* Every entry is filled in; the call reports the first error. */
        for (CK_ULONG i = 0; i < count; i++) {
            CK_RV one = read_attribute(o, &template[i]);
            if (rv == CKR_OK)
                rv = one;
        }
    }
    module_unlock();
    module_leave(m);
    return rv;
}
