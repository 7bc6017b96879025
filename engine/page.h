/*-------------------------------------------------------------------------
 *
 * page.h
 *	  Reading branch and leaf pages (their layout is in format.h): cells,
 *	  keys, children and the binary searches.  Shared by the B+tree code,
 *	  its cursors and the checker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_PAGE_H
#define TS_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "btree.h"

static inline int
nkeys(const uint8_t *p)
{
	return rd16(p + PH_NKEYS);
}

static inline uint8_t *
cellp(uint8_t *p, int i)
{
	return p + rd16(p + TS_PH_SIZE + 2 * i);
}

static inline const uint8_t *
ccellp(const uint8_t *p, int i)
{
	return p + rd16(p + TS_PH_SIZE + 2 * i);
}

static inline size_t
leaf_cell_size(const uint8_t *c)
{
	uint16_t	vl = rd16(c + 2);

	return 4 + (size_t) rd16(c) + (vl == TS_VAL_OVERFLOW ? 16 : vl);
}

static inline size_t
branch_cell_size(const uint8_t *c)
{
	return 10 + (size_t) rd16(c + 8);
}

static inline size_t
cell_size(const uint8_t *p, const uint8_t *c)
{
	return p[PH_TYPE] == TS_PT_LEAF ? leaf_cell_size(c) : branch_cell_size(c);
}

static inline void
cell_key(const uint8_t *p, const uint8_t *c, const uint8_t **k, size_t *kl)
{
	if (p[PH_TYPE] == TS_PT_LEAF)
	{
		*k = c + 4;
		*kl = rd16(c);
	}
	else
	{
		*k = c + 10;
		*kl = rd16(c + 8);
	}
}

static inline uint64_t
branch_child(const uint8_t *p, int i)
{
	return rd64(ccellp(p, i));
}

static inline size_t
used_bytes(const uint8_t *p)
{
	size_t		used = 0;
	int			n = nkeys(p);

	for (int i = 0; i < n; i++)
		used += cell_size(p, ccellp(p, i)) + 2;
	return used;
}

/* First index whose key is >= key; *exact when equal. */
static inline int
leaf_search(const uint8_t *p, const uint8_t *key, size_t klen, int *exact)
{
	int			lo = 0,
				hi = nkeys(p);

	*exact = 0;
	while (lo < hi)
	{
		int			mid = (lo + hi) >> 1;
		const uint8_t *c = ccellp(p, mid);
		int			cmp = ts_keycmp(c + 4, rd16(c), key, klen);

		if (cmp < 0)
			lo = mid + 1;
		else
		{
			if (cmp == 0)
			{
				*exact = 1;
				return mid;
			}
			hi = mid;
		}
	}
	return lo;
}

/* The child to descend into: the last cell whose key <= key. */
static inline int
branch_search(const uint8_t *p, const uint8_t *key, size_t klen)
{
	int			lo = 1,
				hi = nkeys(p);

	while (lo < hi)
	{
		int			mid = (lo + hi) >> 1;
		const uint8_t *c = ccellp(p, mid);

		if (ts_keycmp(c + 10, rd16(c + 8), key, klen) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

#endif							/* TS_PAGE_H */
