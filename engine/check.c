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

#include "btree.h"
#include "error.h"


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

	if (seen == NULL)
		return ts_error(TS_NOMEM, "out of memory for %llu pages", (unsigned long long) m->page_count);
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
				seen[p] = 1;
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
	return rc;
}
