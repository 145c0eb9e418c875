/*
 * daemon.status: what the daemon is doing, for jobctl and monitoring.
 */
#include "config.h"

#include <unistd.h>

#include "jobd.h"

json_t *
metrics_status(void)
{
	json_t	*st, *jobs, *totals;
	int	 i;

	jobs = json_object();
	totals = json_object();
	for (i = 0; i < JOB_NSTATES; i++) {
		json_object_set_new(jobs, job_state_name(i),
		    json_integer((json_int_t)job_count(i)));
		if (JOB_FINISHED(i))
			json_object_set_new(totals, job_state_name(i),
			    json_integer((json_int_t)job_total(i)));
	}
	st = json_pack("{s:s, s:I, s:f, s:i, s:b, s:o, s:o, s:o, s:I}",
	    "version", PACKAGE_VERSION,
	    "pid", (json_int_t)getpid(),
	    "uptime_s", (double)(now_mono_us() - main_start_mono) / 1e6,
	    "connections", server_nconns(),
	    "draining", sched_draining,
	    "queues", sched_status(),
	    "jobs", jobs,
	    "totals", totals,
	    "retained", (json_int_t)job_table_size());
	json_object_set_new(st, "pools", sched_pools_json());
	json_object_set_new(st, "maps", json_integer((json_int_t)map_count()));
	json_object_set_new(st, "schedules", schedule_status());
	return st;
}
