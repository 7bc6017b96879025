/*-------------------------------------------------------------------------
 *
 * treestore_fdw.c
 *	  Module initialisation: one call per module (see treestore_fdw.h).
 *
 *	  Everything that needs shared memory or the worker requires the
 *	  library in shared_preload_libraries; loaded any other way (CREATE
 *	  EXTENSION, LOAD) it registers its settings and hooks and every entry
 *	  point fails with a message saying what to add.
 *
 *-------------------------------------------------------------------------
 */
#include "treestore_fdw.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "local.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	ts_settings_init();
	ts_shmem_init();
	if (process_shared_preload_libraries_in_progress)
		ts_worker_register();
	ts_xact_init();
	ts_local_init();
}
