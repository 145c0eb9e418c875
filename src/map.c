/*
 * job.map: one job type over many items, like Python's pool.map. Items
 * become jobs only as capacity frees (a window per map), so a map of
 * 100 000 items holds one copy of its request and a bounded number of
 * live jobs, and other clients' jobs are not starved. results[i] belongs
 * to items[i]; with stream:true each record is also sent as a job.done
 * notification as it finishes (as_completed).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jobd.h"

#define MAP_PROGRESS_MS		100
#define MAP_RETRY_MS		100
#define MAP_CPU_WINDOW_MIN	64

struct map;

struct map_item {
	struct map	*map;
	size_t		 index;
	struct job_waiter w;
};

struct map {
	char		 id[32];
	uid_t		 uid;
	struct rpc_req	*req;		/* NULL once the client is gone */
	json_t		*params;	/* owns items and the tag */
	json_t		*items;
	struct job_spec	 spec;
	size_t		 n;
	size_t		 next;		/* first item not yet admitted */
	size_t		 inflight;
	size_t		 ndone;
	size_t		 window;
	size_t		 counts[JOB_NSTATES];
	int		 ordered;
	int		 progress;
	int		 stream;
	int		 cancel_on_disconnect;
	int		 stopping;	/* timed out or cancelled: admit no more */
	enum job_state	 stop_state;
	int		 admitting;
	int		 finishing;
	size_t		 progress_sent;
	uint64_t	 start_mono;
	char		**texts;	/* each result record, encoded */
	size_t		 textlen;	/* their total length */
	struct map_item	*slots;
	struct event	*timeout_ev;
	struct event	*progress_ev;
	struct event	*retry_ev;
	LIST_ENTRY(map)	 entry;
};

static LIST_HEAD(, map) map_all = LIST_HEAD_INITIALIZER(map_all);
static size_t	 map_n;
static uint64_t	 map_seq;

static void	 map_admit(struct map *);
static void	 map_item_done(struct job *, void *);

static void
map_free(struct map *m)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		job_unwait(&m->slots[i].w);
	LIST_REMOVE(m, entry);
	map_n--;
	if (m->timeout_ev != NULL)
		event_free(m->timeout_ev);
	if (m->progress_ev != NULL)
		event_free(m->progress_ev);
	if (m->retry_ev != NULL)
		event_free(m->retry_ev);
	if (m->req != NULL)
		rpc_req_on_detach(m->req, NULL, NULL);
	json_decref(m->params);
	for (i = 0; i < m->n; i++)
		free(m->texts[i]);
	free(m->texts);
	free(m->slots);
	free(m);
}

/*
 * Store an item's record (taken), encoded: a 100 000-item map keeps 100 000
 * short strings rather than 100 000 jansson trees.
 */
static void
map_record(struct map *m, size_t index, json_t *rec, enum job_state state)
{
	char	*s;
	size_t	 slot = m->ordered ? index : m->ndone;

	json_object_set_new(rec, "index", json_integer((json_int_t)index));
	m->counts[state]++;
	m->ndone++;
	if (m->stream && m->req != NULL)
		rpc_req_notify(m->req, "job.done", json_incref(rec));
	if ((s = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(9))) == NULL)
		fatalx("%s: json_dumps failed", __func__);
	json_decref(rec);
	m->textlen += strlen(s);
	m->texts[slot] = s;
}

/* The whole result as JSON text: {"id", "results": [...], "summary"}. */
static char *
map_result_text(struct map *m, size_t *lenp)
{
	json_t	*summary;
	char	*sum, *buf, *p;
	size_t	 len, i, n;

	summary = json_pack("{s:I, s:I, s:I, s:I, s:f}",
	    "done", (json_int_t)m->counts[JOB_DONE],
	    "failed", (json_int_t)m->counts[JOB_FAILED],
	    "timeout", (json_int_t)m->counts[JOB_TIMEOUT],
	    "cancelled", (json_int_t)m->counts[JOB_CANCELLED],
	    "elapsed_ms", (double)(now_mono_us() - m->start_mono) / 1000.0);
	sum = json_dumps(summary, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(summary);
	len = m->textlen + m->n + strlen(sum) + strlen(m->id) + 64;
	buf = p = xmalloc(len);
	p += snprintf(p, len, "{\"id\":\"%s\",\"results\":[", m->id);
	for (i = 0; i < m->n; i++) {
		if (i > 0)
			*p++ = ',';
		n = strlen(m->texts[i]);
		memcpy(p, m->texts[i], n);
		p += n;
		free(m->texts[i]);
		m->texts[i] = NULL;
	}
	p += snprintf(p, len - (size_t)(p - buf), "],\"summary\":%s}", sum);
	free(sum);
	*lenp = (size_t)(p - buf);
	return buf;
}

/* A record for an item that never became a job. */
static json_t *
map_synthetic(struct map *m, enum job_state state, const char *code,
    const char *msg)
{
	return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "type",
	    m->spec.type->name, "class", job_class_name(m->spec.class),
	    "state", job_state_name(state), "error", "code", code,
	    "message", msg);
}

/* Every item has a record: answer and forget the map. */
static void
map_finish(struct map *m)
{
	char	*text;
	size_t	 len;

	if (m->finishing)
		return;
	m->finishing = 1;
	if (m->req != NULL) {
		if (m->progress && m->progress_sent != m->ndone)
			rpc_req_notify(m->req, "job.progress", json_pack(
			    "{s:s, s:I, s:I}", "map", m->id,
			    "done", (json_int_t)m->ndone,
			    "total", (json_int_t)m->n));
		text = map_result_text(m, &len);
		rpc_req_on_detach(m->req, NULL, NULL);
		rpc_req_respond_text(m->req, text, len);
		m->req = NULL;
	}
	log_debug("map %s finished: %zu items", m->id, m->n);
	map_free(m);
}

/* Record every item not yet admitted with the stop state. */
static void
map_stop_rest(struct map *m)
{
	const char	*code = m->stop_state == JOB_TIMEOUT ? "timeout" :
			    "cancelled";
	const char	*msg = m->stop_state == JOB_TIMEOUT ?
			    "the map's timeout passed before it started" :
			    "the map was cancelled before it started";

	for (; m->next < m->n; m->next++)
		map_record(m, m->next, map_synthetic(m, m->stop_state, code,
		    msg), m->stop_state);
}

/* Stop the map: no more admissions; running items get cancelled. */
static void
map_stop(struct map *m, enum job_state why)
{
	size_t	 i;

	if (m->stopping)
		return;
	m->stopping = 1;
	m->stop_state = why;
	m->admitting++;		/* records arrive while we cancel */
	map_stop_rest(m);
	for (i = 0; i < m->n; i++) {
		if (m->slots[i].w.job != NULL)
			sched_cancel(m->slots[i].w.job, why);
	}
	m->admitting--;
	if (m->ndone == m->n)
		map_finish(m);
}

static void
map_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct map	*m = arg;

	log_info("map %s: timeout with %zu of %zu items unfinished", m->id,
	    m->n - m->ndone, m->n);
	map_stop(m, JOB_TIMEOUT);
}

static void
map_progress_cb(evutil_socket_t fd, short events, void *arg)
{
	struct map	*m = arg;

	if (m->req == NULL || m->progress_sent == m->ndone)
		return;
	m->progress_sent = m->ndone;
	rpc_req_notify(m->req, "job.progress", json_pack("{s:s, s:I, s:I}",
	    "map", m->id, "done", (json_int_t)m->ndone, "total",
	    (json_int_t)m->n));
}

static void
map_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	map_admit(arg);
}

/* The client went away: go on (its jobs stay retrievable), or stop. */
static void
map_detach_cb(void *arg)
{
	struct map	*m = arg;

	m->req = NULL;
	if (m->cancel_on_disconnect)
		map_stop(m, JOB_CANCELLED);
}

/* Turn items into jobs while the window has room. */
static void
map_admit(struct map *m)
{
	struct rpcerr	 err;
	struct map_item	*it;
	struct job	*job;
	json_t		*args;
	struct timeval	 tv = { 0, MAP_RETRY_MS * 1000 };
	size_t		 i;

	if (m->admitting)
		return;
	m->admitting = 1;
	while (!m->stopping && m->next < m->n && m->inflight < m->window) {
		i = m->next;
		args = json_array_get(m->items, i);
		memset(&err, 0, sizeof err);
		job = sched_create(&m->spec, json_deep_copy(args), m->uid, &err);
		if (job == NULL && err.code == RPC_OVERLOADED) {
			/* The daemon's queue is full: try again shortly. */
			evtimer_add(m->retry_ev, &tv);
			break;
		}
		m->next++;
		if (job == NULL) {
			if (err.code == RPC_SHUTTING_DOWN)
				map_record(m, i, map_synthetic(m, JOB_CANCELLED,
				    "shutting_down", err.reason), JOB_CANCELLED);
			else
				map_record(m, i, map_synthetic(m, JOB_FAILED,
				    "invalid_args", err.reason), JOB_FAILED);
			continue;
		}
		it = &m->slots[i];
		it->map = m;
		it->index = i;
		m->inflight++;
		if (JOB_FINISHED(job->state)) {
			map_item_done(job, it);
			continue;
		}
		job_wait(job, &it->w, map_item_done, it);
	}
	m->admitting = 0;
	if (m->ndone == m->n)
		map_finish(m);
}

static void
map_item_done(struct job *job, void *arg)
{
	struct map_item	*it = arg;
	struct map	*m = it->map;

	m->inflight--;
	map_record(m, it->index, job_record(job, 1), job->state);
	if (m->admitting)
		return;		/* the admit loop or map_stop carries on */
	map_admit(m);
}

int
map_start(struct rpc_req *req, json_t *params, struct rpcerr *err)
{
	static const char *const extra[] = { "items", "ordered", "progress",
	    "stream", "item_timeout_ms", "cancel_on_disconnect", NULL };
	struct map	*m;
	json_t		*items, *v;
	int64_t		 timeout_ms, item_timeout;
	size_t		 i;
	int		 ordered, progress, stream, cod;
	struct timeval	 tv;

	if (sched_draining) {
		rpcerr_set(err, RPC_SHUTTING_DOWN, NULL,
		    "shutting down: no new work accepted");
		return -1;
	}
	/* The map's timeout_ms bounds the whole map, not each item. */
	if (arg_int(params, "timeout_ms", 0, 0, INT64_C(86400000) * 7,
	    &timeout_ms, err) == -1)
		return -1;
	json_object_del(params, "timeout_ms");
	if ((v = json_object_get(params, "item_timeout_ms")) != NULL) {
		if (arg_int(params, "item_timeout_ms", 0, 0,
		    INT64_C(86400000) * 7, &item_timeout, err) == -1)
			return -1;
		json_object_set(params, "timeout_ms", v);
	}
	items = json_object_get(params, "items");
	if (!json_is_array(items)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "items",
		    "must be an array of args objects");
		return -1;
	}
	json_array_foreach(items, i, v) {
		if (!json_is_object(v)) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "items",
			    "item %zu is not an object", i);
			return -1;
		}
	}
	if (arg_bool(params, "ordered", 1, &ordered, err) == -1 ||
	    arg_bool(params, "progress", 0, &progress, err) == -1 ||
	    arg_bool(params, "stream", 0, &stream, err) == -1 ||
	    arg_bool(params, "cancel_on_disconnect", 0, &cod, err) == -1)
		return -1;
	if (json_object_get(params, "args") != NULL) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "args",
		    "job.map takes items, not args");
		return -1;
	}

	m = xcalloc(1, sizeof *m);
	if (sched_spec(params, extra, &m->spec, err) == -1) {
		free(m);
		return -1;
	}
	m->params = json_incref(params);	/* keeps spec.tag alive */
	m->items = items;
	m->n = json_array_size(items);
	m->uid = rpc_req_uid(req);
	m->ordered = ordered;
	m->progress = progress;
	m->stream = stream;
	m->cancel_on_disconnect = cod;
	m->start_mono = now_mono_us();
	snprintf(m->id, sizeof m->id, "map-%llu",
	    (unsigned long long)++map_seq);
	m->texts = xcalloc(m->n > 0 ? m->n : 1, sizeof *m->texts);
	m->slots = xcalloc(m->n > 0 ? m->n : 1, sizeof *m->slots);
	/* Enough to keep the engine busy, no more. */
	if (m->spec.class == CLASS_IO)
		m->window = (size_t)cfg->max_transfers;
	else {
		m->window = 4 * (size_t)config_cpu_workers(cfg);
		if (m->window < MAP_CPU_WINDOW_MIN)
			m->window = MAP_CPU_WINDOW_MIN;
	}
	m->req = req;
	rpc_req_on_detach(req, map_detach_cb, m);
	m->retry_ev = evtimer_new(main_base, map_retry_cb, m);
	if (timeout_ms > 0) {
		m->timeout_ev = evtimer_new(main_base, map_timeout_cb, m);
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(m->timeout_ev, &tv);
	}
	if (progress) {
		m->progress_ev = event_new(main_base, -1, EV_PERSIST,
		    map_progress_cb, m);
		tv.tv_sec = 0;
		tv.tv_usec = MAP_PROGRESS_MS * 1000;
		event_add(m->progress_ev, &tv);
	}
	LIST_INSERT_HEAD(&map_all, m, entry);
	map_n++;
	log_debug("map %s: %zu %s items, window %zu", m->id, m->n,
	    m->spec.type->name, m->window);
	/*
	 * Admit from the loop, not here: the map may finish at once (empty,
	 * or every item refused) and the request is not deferred yet.
	 */
	event_active(m->retry_ev, EV_TIMEOUT, 0);
	return 0;
}

/* Forget every map (exit): nobody is left to answer. */
void
map_shutdown(void)
{
	struct map	*m;

	while ((m = LIST_FIRST(&map_all)) != NULL)
		map_free(m);
}

size_t
map_count(void)
{
	return map_n;
}
