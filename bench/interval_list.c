// SPDX-License-Identifier: GPL-2.0-only
/*
 * The linked-list baseline (see interval_list.h). Deliberately the plain
 * structure, O(n) per update and per lookup: it is what encmap is measured
 * against. On -ENOMEM an update may be left half done, as in the original.
 */
#include "interval_list.h"

#include <errno.h>
#include <stdlib.h>

static bool prov_same(const struct encmap_prov *a, const struct encmap_prov *b)
{
	return a->vcpu == b->vcpu && a->generation == b->generation && a->seq == b->seq;
}

static struct ilist_node *node_new(struct ilist *l, uint64_t start, uint64_t end,
				   const struct encmap_prov *prov)
{
	struct ilist_node *n = malloc(sizeof(*n));

	if (!n)
		return NULL;
	n->start = start;
	n->end = end;
	n->prov = *prov;
	n->prev = n->next = NULL;
	l->count++;
	l->bytes += sizeof(*n);
	return n;
}

/* Link n between prev (NULL: at the head) and prev's successor. */
static void node_link_after(struct ilist *l, struct ilist_node *prev, struct ilist_node *n)
{
	struct ilist_node *next = prev ? prev->next : l->head;

	n->prev = prev;
	n->next = next;
	if (prev)
		prev->next = n;
	else
		l->head = n;
	if (next)
		next->prev = n;
}

static void node_free(struct ilist *l, struct ilist_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	l->count--;
	l->bytes -= sizeof(*n);
	free(n);
}

void ilist_init(struct ilist *l)
{
	l->head = NULL;
	l->count = 0;
	l->bytes = 0;
}

void ilist_clear(struct ilist *l)
{
	while (l->head)
		node_free(l, l->head);
}

int ilist_set(struct ilist *l, uint64_t start, uint64_t end, const struct encmap_prov *prov)
{
	struct ilist_node *prev = NULL, *pos = l->head, *n;

	/* Linear search from the head, as sev_add_shared_regions_list does. */
	while (pos && pos->end < start) {
		prev = pos;
		pos = pos->next;
	}
	/* Cut [start, end) out of the ranges that overlap it. */
	while (pos && pos->start < end) {
		struct ilist_node *next = pos->next;

		if (pos->end <= start) { /* touches on the left */
			prev = pos;
		} else if (pos->start < start && pos->end > end) { /* split in two */
			n = node_new(l, end, pos->end, &pos->prov);
			if (!n)
				return -ENOMEM;
			pos->end = start;
			node_link_after(l, pos, n);
			prev = pos;
			pos = n;
			break;
		} else if (pos->start < start) {
			pos->end = start;
			prev = pos;
		} else if (pos->end > end) {
			pos->start = end;
			break;
		} else {
			node_free(l, pos);
		}
		pos = next;
	}
	if (!prov)
		return 0;

	/* prev ends at or before start, pos starts at or after end: merge or link. */
	if (prev && prev->end == start && prov_same(&prev->prov, prov)) {
		prev->end = end;
		if (pos && pos->start == end && prov_same(&pos->prov, prov)) {
			prev->end = pos->end;
			node_free(l, pos);
		}
		return 0;
	}
	if (pos && pos->start == end && prov_same(&pos->prov, prov)) {
		pos->start = start;
		return 0;
	}
	n = node_new(l, start, end, prov);
	if (!n)
		return -ENOMEM;
	node_link_after(l, prev, n);
	return 0;
}

bool ilist_lookup(const struct ilist *l, uint64_t pfn, struct encmap_prov *out)
{
	for (const struct ilist_node *n = l->head; n && n->start <= pfn; n = n->next) {
		if (pfn < n->end) {
			*out = n->prov;
			return true;
		}
	}
	return false;
}
