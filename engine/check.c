/*-------------------------------------------------------------------------
 *
 * check.c
 *	  Whole-file verification (ts_env_check; later treestore-check).
 *
 *	  Of one committed state it proves: every page of every tree passes its
 *	  checksum and type check; keys are ordered within pages and lie within
 *	  their parents' separators; all leaves are at the tree's depth; entry
 *	  counts match the catalog and meta page; and every page below
 *	  page_count is reachable or listed free exactly once (freelist.c,
 *	  invariant 2).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "page.h"


static int
check_mark(ts_pager *pg, uint8_t *seen, uint64_t npages, uint64_t pgno)
{
	if (pgno < 2 || pgno >= npages)
		return ts_error(TS_CORRUPT, "%s: page %llu referenced but outside the file's %llu pages",
						ts_pager_path(pg), (unsigned long long) pgno, (unsigned long long) npages);
	if (seen[pgno])
		return ts_error(TS_CORRUPT, "%s: page %llu is referenced twice",
						ts_pager_path(pg), (unsigned long long) pgno);
	seen[pgno] = 1;
	return 0;
}

int
ts_bt_check(ts_pager *pg, const ts_treeinfo *t, uint8_t *seen, uint64_t npages,
			uint64_t *entries)
{
	/* explicit stack: page, next child index, and the key bounds */
	struct
	{
		uint64_t	pgno;
		uint64_t	ptx;		/* its parent's txnid (UINT64_MAX: the root) */
		int			i;
		uint8_t		lo[TS_MAX_KEY];
		size_t		lol;
		int			haslo;
		uint8_t		hi[TS_MAX_KEY];
		size_t		hil;
		int			hashi;
	}		   *st;
	int			sp,
				rc = 0;
	uint8_t    *ob = aligned_alloc(TS_PAGE_SIZE, TS_PAGE_SIZE);

	*entries = 0;
	if (t->root == 0)
	{
		free(ob);
		return t->depth == 0 ? 0 : ts_error(TS_CORRUPT, "%s: empty tree with depth %u",
											ts_pager_path(pg), t->depth);
	}
	st = calloc(TS_MAX_DEPTH, sizeof(*st));
	if (st == NULL || ob == NULL)
	{
		free(st);
		free(ob);
		return ts_error(TS_NOMEM, "out of memory");
	}
	if (t->depth == 0 || t->depth > TS_MAX_DEPTH)
	{
		rc = ts_error(TS_CORRUPT, "%s: tree depth %u out of range", ts_pager_path(pg), t->depth);
		goto done;
	}
	if ((rc = check_mark(pg, seen, npages, t->root)) != 0)
		goto done;
	st[0].pgno = t->root;
	st[0].ptx = UINT64_MAX;
	sp = 1;
	while (sp > 0 && rc == 0)
	{
		ts_frame   *f;
		int			leaf = (sp == (int) t->depth);
		const uint8_t *p;
		int			n;

		if ((rc = ts_pager_get_child(pg, st[sp - 1].pgno, leaf ? TS_PT_LEAF : TS_PT_BRANCH,
									 st[sp - 1].ptx, &f)) != 0)
			break;
		p = f->data;
		n = nkeys(p);
		if (st[sp - 1].i == 0)
		{
			/* first visit: check order and bounds of this page's keys */
			for (int i = 0; i < n && rc == 0; i++)
			{
				const uint8_t *k;
				size_t		kl;

				cell_key(p, ccellp(p, i), &k, &kl);
				if (!leaf && i == 0)
				{
					if (kl != 0)
						rc = ts_error(TS_CORRUPT, "%s: page %llu: first branch key not empty",
									  ts_pager_path(pg), (unsigned long long) st[sp - 1].pgno);
					continue;
				}
				if (kl == 0 || kl > TS_MAX_KEY)
					rc = ts_error(TS_CORRUPT, "%s: page %llu: key %d has length %zu",
								  ts_pager_path(pg), (unsigned long long) st[sp - 1].pgno, i, kl);
				else if (i > (leaf ? 0 : 1))
				{
					const uint8_t *pk;
					size_t		pkl;

					cell_key(p, ccellp(p, i - 1), &pk, &pkl);
					if (ts_keycmp(pk, pkl, k, kl) >= 0)
						rc = ts_error(TS_CORRUPT, "%s: page %llu: keys %d and %d out of order",
									  ts_pager_path(pg), (unsigned long long) st[sp - 1].pgno, i - 1, i);
				}
				if (rc == 0 && st[sp - 1].haslo && ts_keycmp(k, kl, st[sp - 1].lo, st[sp - 1].lol) < 0)
					rc = ts_error(TS_CORRUPT, "%s: page %llu: key %d below its parent's separator",
								  ts_pager_path(pg), (unsigned long long) st[sp - 1].pgno, i);
				if (rc == 0 && st[sp - 1].hashi && ts_keycmp(k, kl, st[sp - 1].hi, st[sp - 1].hil) >= 0)
					rc = ts_error(TS_CORRUPT, "%s: page %llu: key %d at or above the next separator",
								  ts_pager_path(pg), (unsigned long long) st[sp - 1].pgno, i);
				if (rc == 0 && leaf && rd16(ccellp(p, i) + 2) == TS_VAL_OVERFLOW)
				{
					/* walk and mark the overflow chain */
					const uint8_t *o = ccellp(p, i) + 4 + kl;
					uint64_t	total = rd64(o),
								cur = rd64(o + 8),
								got = 0;

					while (rc == 0 && got < total)
					{
						if ((rc = check_mark(pg, seen, npages, cur)) != 0 ||
							(rc = ts_pager_read_raw(pg, cur, TS_PT_OVERFLOW, ob)) != 0)
							break;
						got += TS_OVF_DATA;
						cur = rd64(ob + PH_NEXT);
					}
					if (rc == 0 && cur != 0)
						rc = ts_error(TS_CORRUPT, "%s: page %llu: overflow chain of key %d too long",
									  ts_pager_path(pg), (unsigned long long) st[sp - 1].pgno, i);
				}
			}
			if (leaf)
				*entries += (uint64_t) n;
			else if (n == 0)
				rc = ts_error(TS_CORRUPT, "%s: branch page %llu is empty",
							  ts_pager_path(pg), (unsigned long long) st[sp - 1].pgno);
		}
		if (rc != 0 || leaf || st[sp - 1].i >= n)
		{
			ts_pager_release(pg, f);
			sp--;
			continue;
		}
		{
			int			i = st[sp - 1].i++;
			uint64_t	child = branch_child(p, i);
			const uint8_t *k;
			size_t		kl;

			if (sp >= TS_MAX_DEPTH)
			{
				ts_pager_release(pg, f);
				rc = ts_error(TS_CORRUPT, "%s: tree deeper than its depth", ts_pager_path(pg));
				break;
			}
			st[sp].pgno = child;
			st[sp].ptx = rd64(p + PH_TXNID);
			st[sp].i = 0;
			if (i == 0)
			{
				st[sp].haslo = st[sp - 1].haslo;
				memcpy(st[sp].lo, st[sp - 1].lo, st[sp - 1].lol);
				st[sp].lol = st[sp - 1].lol;
			}
			else
			{
				cell_key(p, ccellp(p, i), &k, &kl);
				st[sp].haslo = 1;
				memcpy(st[sp].lo, k, kl);
				st[sp].lol = kl;
			}
			if (i + 1 < n)
			{
				cell_key(p, ccellp(p, i + 1), &k, &kl);
				st[sp].hashi = 1;
				memcpy(st[sp].hi, k, kl);
				st[sp].hil = kl;
			}
			else
			{
				st[sp].hashi = st[sp - 1].hashi;
				memcpy(st[sp].hi, st[sp - 1].hi, st[sp - 1].hil);
				st[sp].hil = st[sp - 1].hil;
			}
			ts_pager_release(pg, f);
			if ((rc = check_mark(pg, seen, npages, child)) != 0)
				break;
			sp++;
		}
	}
done:
	free(st);
	free(ob);
	return rc;
}

static int
check_tree(ts_pager *pg, const char *what, const ts_treeinfo *t, uint8_t *seen, uint64_t npages)
{
	uint64_t	entries;
	int			rc = ts_bt_check(pg, t, seen, npages, &entries);

	if (rc == 0 && entries != t->entries)
		rc = ts_error(TS_CORRUPT, "%s: %s holds %llu entries, its descriptor says %llu",
					  ts_pager_path(pg), what, (unsigned long long) entries,
					  (unsigned long long) t->entries);
	return rc;
}

int
ts_env_check_snapshot(ts_env *env, const ts_meta *m, uint32_t ntrees,
					  const ts_treeinfo *trees, const uint8_t *exists)
{
	ts_pager   *pg = ts_env_pager(env);
	ts_treeinfo cat = {m->cat_root, m->cat_depth, m->cat_entries};
	ts_treeinfo fl = {m->fl_root, m->fl_depth, m->fl_entries};
	uint8_t    *seen = calloc(m->page_count ? m->page_count : 1, 1);
	uint64_t	nfree = 0,
				ntree = 0;
	ts_btcur	c;
	int			rc;
	uint8_t    *buf = aligned_alloc(TS_PAGE_SIZE, TS_PAGE_SIZE);

	if (seen == NULL || buf == NULL)
	{
		free(seen);
		free(buf);
		return ts_error(TS_NOMEM, "out of memory for %llu pages", (unsigned long long) m->page_count);
	}
	seen[0] = seen[1] = 1;
	if ((rc = check_tree(pg, "the catalog", &cat, seen, m->page_count)) != 0 ||
		(rc = check_tree(pg, "the freelist", &fl, seen, m->page_count)) != 0)
		goto done;
	for (uint32_t id = 1; id < ntrees; id++)
	{
		char		what[64];

		if (!exists[id])
			continue;
		ntree++;
		snprintf(what, sizeof(what), "tree %u", id);
		if ((rc = check_tree(pg, what, &trees[id], seen, m->page_count)) != 0)
			goto done;
	}
	if (ntree != m->cat_entries)
	{
		rc = ts_error(TS_CORRUPT, "%s: the catalog lists %llu trees, the meta page %llu",
					  ts_pager_path(pg), (unsigned long long) ntree,
					  (unsigned long long) m->cat_entries);
		goto done;
	}

	/* every page on the freelist: inside the file, unreachable, listed once */
	ts_btcur_init(&c, pg, &fl);
	for (rc = ts_btcur_first(&c); rc == 0; rc = ts_btcur_next(&c))
	{
		const uint8_t *v;
		size_t		vl;

		if ((rc = ts_btcur_val(&c, &v, &vl)) != 0)
			break;
		if (vl % 8 != 0)
		{
			rc = ts_error(TS_CORRUPT, "%s: freelist record of %zu bytes", ts_pager_path(pg), vl);
			break;
		}
		for (size_t i = 0; i < vl / 8; i++)
		{
			uint64_t	p = rd64(v + 8 * i);

			if (p < 2 || p >= m->page_count)
				rc = ts_error(TS_CORRUPT, "%s: freelist lists page %llu, outside the file",
							  ts_pager_path(pg), (unsigned long long) p);
			else if (seen[p])
				rc = ts_error(TS_CORRUPT, "%s: page %llu is on the freelist and also in use or listed twice",
							  ts_pager_path(pg), (unsigned long long) p);
			else
				seen[p] = 1;	/* free pages hold no data: after a crash, anything */
			if (rc)
				break;
			nfree++;
		}
		if (rc)
			break;
	}
	ts_btcur_done(&c);
	if (rc != TS_NOTFOUND)
		goto done;
	rc = 0;
	if (nfree != m->free_count)
	{
		rc = ts_error(TS_CORRUPT, "%s: the freelist holds %llu pages, the meta page says %llu",
					  ts_pager_path(pg), (unsigned long long) nfree,
					  (unsigned long long) m->free_count);
		goto done;
	}
	for (uint64_t p = 2; p < m->page_count; p++)
		if (!seen[p])
		{
			rc = ts_error(TS_CORRUPT, "%s: page %llu is neither in use nor free (leaked)",
						  ts_pager_path(pg), (unsigned long long) p);
			break;
		}
done:
	free(seen);
	free(buf);
	return rc;
}
