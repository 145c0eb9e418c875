/*
 * Observability: daemon.status for people and scripts, daemon.metrics in
 * the Prometheus text format, and fixed-memory latency histograms per job
 * type (class figures are sums of their types').
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

#define METRICS_MAX_TYPES	32

/* Upper bounds in milliseconds; the last bucket is +Inf. */
static const double metrics_bounds[] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
	5000, 10000, 30000, 60000, 300000,
};
#define METRICS_NBUCKETS	(nitems(metrics_bounds) + 1)

struct metrics_hist {
	uint64_t	 buckets[METRICS_NBUCKETS];
	uint64_t	 count;
	double		 sum;
};

struct metrics_type {
	const char	*name;		/* the registry's string */
	enum job_class	 class;
	uint64_t	 states[JOB_NSTATES];
	struct metrics_hist latency;	/* submit to finish */
	struct metrics_hist run;	/* start to finish */
};

static struct metrics_type metrics_types[METRICS_MAX_TYPES];
static size_t	 metrics_ntypes;

static struct metrics_type *
metrics_type(const struct jobtype *t, enum job_class class)
{
	size_t	 i;

	for (i = 0; i < metrics_ntypes; i++) {
		if (metrics_types[i].name == t->name &&
		    metrics_types[i].class == class)
			return &metrics_types[i];
	}
	if (metrics_ntypes == METRICS_MAX_TYPES)
		return NULL;
	metrics_types[metrics_ntypes].name = t->name;
	metrics_types[metrics_ntypes].class = class;
	return &metrics_types[metrics_ntypes++];
}

static void
metrics_hist_add(struct metrics_hist *h, double ms)
{
	size_t	 i;

	for (i = 0; i < nitems(metrics_bounds); i++) {
		if (ms <= metrics_bounds[i])
			break;
	}
	h->buckets[i]++;
	h->count++;
	h->sum += ms;
}

static void
metrics_hist_merge(struct metrics_hist *dst, const struct metrics_hist *src)
{
	size_t	 i;

	for (i = 0; i < METRICS_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
}

/* Estimate quantile q from the buckets, interpolating inside one. */
static double
metrics_hist_quantile(const struct metrics_hist *h, double q)
{
	double		 rank = q * (double)h->count, lo, hi;
	uint64_t	 seen = 0;
	size_t		 i;

	for (i = 0; i < METRICS_NBUCKETS; i++) {
		if ((double)(seen + h->buckets[i]) >= rank && h->buckets[i] > 0)
			break;
		seen += h->buckets[i];
	}
	if (i >= nitems(metrics_bounds))
		return metrics_bounds[nitems(metrics_bounds) - 1];
	lo = i == 0 ? 0 : metrics_bounds[i - 1];
	hi = metrics_bounds[i];
	return lo + (hi - lo) * ((rank - (double)seen) /
	    (double)h->buckets[i]);
}

/* Called by job.c when a job reaches an end state. */
void
metrics_job_finished(const struct job *job)
{
	struct metrics_type	*m;

	if ((m = metrics_type(job->type, job->class)) == NULL)
		return;
	m->states[job->state]++;
	metrics_hist_add(&m->latency, (double)(job->finished_mono -
	    job->submitted_mono) / 1000.0);
	if (job->started_mono != 0)
		metrics_hist_add(&m->run, (double)(job->finished_mono -
		    job->started_mono) / 1000.0);
}

static json_t *
metrics_hist_json(const struct metrics_hist *h)
{
	if (h->count == 0)
		return json_pack("{s:i}", "count", 0);
	return json_pack("{s:I, s:f, s:f, s:f, s:f}", "count",
	    (json_int_t)h->count, "mean_ms", h->sum / (double)h->count,
	    "p50_ms", metrics_hist_quantile(h, 0.50),
	    "p90_ms", metrics_hist_quantile(h, 0.90),
	    "p99_ms", metrics_hist_quantile(h, 0.99));
}

/* Latency quantiles per class and per type. */
static json_t *
metrics_latency_json(void)
{
	struct metrics_hist	 cls[JOB_NCLASSES];
	json_t			*types, *classes;
	size_t			 i;
	int			 c;

	memset(cls, 0, sizeof cls);
	types = json_object();
	for (i = 0; i < metrics_ntypes; i++) {
		metrics_hist_merge(&cls[metrics_types[i].class],
		    &metrics_types[i].latency);
		json_object_set_new(types, metrics_types[i].name,
		    metrics_hist_json(&metrics_types[i].latency));
	}
	classes = json_object();
	for (c = 0; c < JOB_NCLASSES; c++)
		json_object_set_new(classes, job_class_name(c),
		    metrics_hist_json(&cls[c]));
	return json_pack("{s:o, s:o}", "class", classes, "type", types);
}

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
	json_object_set_new(st, "latency", metrics_latency_json());
	json_object_set_new(st, "maps", json_integer((json_int_t)map_count()));
	json_object_set_new(st, "schedules", schedule_status());
	return st;
}

/* A growing text buffer. */
struct metrics_buf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

static void __attribute__((format(printf, 2, 3)))
metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->size - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatalx("%s: vsnprintf failed", __func__);
		if ((size_t)n < b->size - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->size = b->size * 2 + (size_t)n;
		b->s = xreallocarray(b->s, b->size, 1);
	}
}

static void
metrics_head(struct metrics_buf *b, const char *name, const char *type,
    const char *help)
{
	metrics_printf(b, "# HELP jobd_%s %s\n# TYPE jobd_%s %s\n", name, help,
	    name, type);
}

static void
metrics_hist_text(struct metrics_buf *b, const char *name,
    const struct metrics_type *m, const struct metrics_hist *h)
{
	uint64_t	 cum = 0;
	size_t		 i;

	for (i = 0; i < nitems(metrics_bounds); i++) {
		cum += h->buckets[i];
		metrics_printf(b, "jobd_%s_bucket{type=\"%s\",class=\"%s\","
		    "le=\"%g\"} %llu\n", name, m->name, job_class_name(m->class),
		    metrics_bounds[i] / 1000.0, (unsigned long long)cum);
	}
	cum += h->buckets[i];
	metrics_printf(b, "jobd_%s_bucket{type=\"%s\",class=\"%s\",le=\"+Inf\"}"
	    " %llu\n", name, m->name, job_class_name(m->class),
	    (unsigned long long)cum);
	metrics_printf(b, "jobd_%s_sum{type=\"%s\",class=\"%s\"} %.6f\n", name,
	    m->name, job_class_name(m->class), h->sum / 1000.0);
	metrics_printf(b, "jobd_%s_count{type=\"%s\",class=\"%s\"} %llu\n",
	    name, m->name, job_class_name(m->class),
	    (unsigned long long)h->count);
}

static void
metrics_schedule_cb(const char *id, const char *type, int health, void *arg)
{
	struct metrics_buf	*b = arg;

	if (health < 0)
		return;
	metrics_printf(b, "jobd_schedule_up{schedule=\"%s\",type=\"%s\"} %d\n",
	    id, type, health == 1 ? 1 : 0);
}

/* Read an integer member of an engine's status, 0 if absent. */
static json_int_t
metrics_get(json_t *o, const char *a, const char *b)
{
	json_t	*v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

char *
metrics_text(void)
{
	static const char *causes[] = { "crash", "timeout", "cancel", "recycle" };
	struct metrics_buf	 b;
	json_t			*pools, *cpu, *io, *w;
	size_t			 i, k;
	int			 s, c, busy;

	b.size = 16384;
	b.len = 0;
	b.s = xmalloc(b.size);
	b.s[0] = '\0';

	metrics_head(&b, "up", "gauge", "1 while the daemon runs.");
	metrics_printf(&b, "jobd_up 1\n");
	metrics_head(&b, "uptime_seconds", "gauge", "Seconds since start.");
	metrics_printf(&b, "jobd_uptime_seconds %.3f\n",
	    (double)(now_mono_us() - main_start_mono) / 1e6);
	metrics_head(&b, "connections", "gauge", "Open client connections.");
	metrics_printf(&b, "jobd_connections %d\n", server_nconns());

	metrics_head(&b, "jobs_finished_total", "counter",
	    "Jobs that reached an end state, by type and state.");
	for (i = 0; i < metrics_ntypes; i++) {
		for (s = JOB_DONE; s < JOB_NSTATES; s++)
			metrics_printf(&b, "jobd_jobs_finished_total{type=\"%s\","
			    "class=\"%s\",state=\"%s\"} %llu\n",
			    metrics_types[i].name,
			    job_class_name(metrics_types[i].class),
			    job_state_name(s),
			    (unsigned long long)metrics_types[i].states[s]);
	}
	metrics_head(&b, "jobs", "gauge", "Jobs in the table, by state.");
	for (s = 0; s < JOB_NSTATES; s++)
		metrics_printf(&b, "jobd_jobs{state=\"%s\"} %llu\n",
		    job_state_name(s), (unsigned long long)job_count(s));
	metrics_head(&b, "queue_depth", "gauge", "Jobs waiting, by class.");
	for (c = 0; c < JOB_NCLASSES; c++)
		metrics_printf(&b, "jobd_queue_depth{class=\"%s\"} %zu\n",
		    job_class_name(c), sched_queued(c));

	metrics_head(&b, "job_latency_seconds", "histogram",
	    "Time from submit to an end state.");
	for (i = 0; i < metrics_ntypes; i++)
		metrics_hist_text(&b, "job_latency_seconds", &metrics_types[i],
		    &metrics_types[i].latency);
	metrics_head(&b, "job_run_seconds", "histogram",
	    "Time from start to an end state.");
	for (i = 0; i < metrics_ntypes; i++)
		metrics_hist_text(&b, "job_run_seconds", &metrics_types[i],
		    &metrics_types[i].run);

	pools = sched_pools_json();
	io = json_object_get(pools, "io");
	cpu = json_object_get(pools, "cpu");
	metrics_head(&b, "io_transfers_in_flight", "gauge",
	    "Transfers handed to libcurl.");
	metrics_printf(&b, "jobd_io_transfers_in_flight %lld\n",
	    (long long)metrics_get(io, "in_flight", NULL));
	metrics_head(&b, "cpu_workers", "gauge", "Worker processes, by state.");
	busy = 0;
	json_array_foreach(json_object_get(cpu, "workers"), k, w) {
		const char *st = json_string_value(json_object_get(w, "state"));
		if (st != NULL && strcmp(st, "busy") == 0)
			busy++;
	}
	metrics_printf(&b, "jobd_cpu_workers{state=\"busy\"} %d\n", busy);
	metrics_printf(&b, "jobd_cpu_workers{state=\"total\"} %zu\n",
	    json_array_size(json_object_get(cpu, "workers")));
	metrics_head(&b, "cpu_worker_restarts_total", "counter",
	    "Worker processes replaced, by cause.");
	for (i = 0; i < nitems(causes); i++)
		metrics_printf(&b, "jobd_cpu_worker_restarts_total{cause=\"%s\"}"
		    " %lld\n", causes[i],
		    (long long)metrics_get(cpu, "restarts", causes[i]));
	json_decref(pools);

	metrics_head(&b, "schedule_up", "gauge",
	    "1 when a ping schedule's target is up, 0 when down or unknown.");
	schedule_foreach(metrics_schedule_cb, &b);
	return b.s;
}
