/*
 * JSON-RPC 2.0: decode and validate request lines, dispatch methods, and
 * answer — at once, or later when a job a request waits for finishes.
 * Batches are answered as one array once every member is answered.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

#define RPC_LIST_DEFAULT	100
#define RPC_LIST_MAX		100000

struct rpc_batch {
	struct rpc_conn	*rc;
	json_t		*responses;
	size_t		 outstanding;
};

struct rpc_req {
	struct rpc_conn	*rc;
	json_t		*id;		/* NULL for a notification */
	struct rpc_batch *batch;
	struct job_waiter w;
	struct event	*timer;		/* job.wait timeout */
	int		 deferred;
	void		(*detach)(void *);	/* told when the client goes */
	void		*detach_arg;
	TAILQ_ENTRY(rpc_req) entry;
};
TAILQ_HEAD(rpc_reqs, rpc_req);

struct rpc_conn {
	struct conn	*conn;
	struct rpc_reqs	 reqs;		/* deferred requests */
};

typedef int (*rpc_fn)(struct rpc_req *, json_t *, json_t **, struct rpcerr *);

struct rpc_method {
	const char	*name;
	rpc_fn		 fn;
	int		 need_params;
};

static struct event_base *rpc_base;

static int	 rpc_job_submit(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_job_get(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_job_wait(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_job_cancel(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_job_list(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_daemon_status(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_daemon_types(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_daemon_reload(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);

static int	 rpc_job_map(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);

static int	 rpc_schedule_add(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_schedule_get(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_schedule_list(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);
static int	 rpc_schedule_remove(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);

static int	 rpc_daemon_metrics(struct rpc_req *, json_t *, json_t **,
		     struct rpcerr *);

static const struct rpc_method rpc_methods[] = {
	{ "daemon.metrics",	rpc_daemon_metrics,	0 },
	{ "schedule.add",	rpc_schedule_add,	1 },
	{ "schedule.get",	rpc_schedule_get,	1 },
	{ "schedule.list",	rpc_schedule_list,	0 },
	{ "schedule.remove",	rpc_schedule_remove,	1 },
	{ "job.map",		rpc_job_map,		1 },
	{ "job.submit",		rpc_job_submit,		1 },
	{ "job.get",		rpc_job_get,		1 },
	{ "job.wait",		rpc_job_wait,		1 },
	{ "job.cancel",		rpc_job_cancel,		1 },
	{ "job.list",		rpc_job_list,		0 },
	{ "daemon.status",	rpc_daemon_status,	0 },
	{ "daemon.types",	rpc_daemon_types,	0 },
	{ "daemon.reload",	rpc_daemon_reload,	0 },
};

static const char *
rpc_code_message(int code)
{
	switch (code) {
	case RPC_PARSE_ERROR:		return "parse error";
	case RPC_INVALID_REQUEST:	return "invalid request";
	case RPC_METHOD_NOT_FOUND:	return "method not found";
	case RPC_INVALID_PARAMS:	return "invalid params";
	case RPC_INTERNAL_ERROR:	return "internal error";
	case RPC_OVERLOADED:		return "overloaded";
	case RPC_UNKNOWN_JOB:		return "unknown job";
	case RPC_FORBIDDEN:		return "forbidden";
	case RPC_SHUTTING_DOWN:		return "shutting down";
	case RPC_TOO_LARGE:		return "request too large";
	default:			return "error";
	}
}

void
rpc_init(struct event_base *base)
{
	rpc_base = base;
}

/* A whole error response; id is borrowed, data copied. */
json_t *
rpc_error_json(json_t *id, int code, const char *message, const json_t *data)
{
	json_t	*e;

	e = json_pack("{s:i, s:s}", "code", code, "message",
	    message != NULL ? message : rpc_code_message(code));
	if (data != NULL)
		json_object_set_new(e, "data", json_deep_copy(data));
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
	    id != NULL ? id : json_null(), "error", e);
}

json_t *
rpcerr_json(json_t *id, const struct rpcerr *err)
{
	json_t		*data = NULL, *r;
	const char	*msg = rpc_code_message(err->code);
	char		 buf[512];

	switch (err->code) {
	case RPC_INVALID_PARAMS:
		data = json_pack("{s:s, s:s}", "field", err->field,
		    "reason", err->reason);
		snprintf(buf, sizeof buf, "invalid params: %s%s%s",
		    err->field, *err->field != '\0' ? ": " : "", err->reason);
		msg = buf;
		break;
	case RPC_FORBIDDEN:
		data = json_pack("{s:s}", "reason", err->reason);
		snprintf(buf, sizeof buf, "forbidden: %s", err->reason);
		msg = buf;
		break;
	case RPC_OVERLOADED:
		data = json_pack("{s:i}", "retry_after_ms",
		    err->retry_after_ms > 0 ? err->retry_after_ms : 1000);
		/* FALLTHROUGH */
	default:
		if (*err->reason != '\0')
			msg = err->reason;
		break;
	}
	r = rpc_error_json(id, err->code, msg, data);
	json_decref(data);
	return r;
}

/* A success response; id and result are borrowed. */
static json_t *
rpc_result_json(json_t *id, json_t *result)
{
	return json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id", id,
	    "result", result);
}

struct rpc_conn *
rpc_conn_new(struct conn *c)
{
	struct rpc_conn	*rc;

	rc = xcalloc(1, sizeof *rc);
	rc->conn = c;
	TAILQ_INIT(&rc->reqs);
	return rc;
}

static void
rpc_batch_unref(struct rpc_batch *b)
{
	if (--b->outstanding > 0)
		return;
	if (b->rc != NULL && json_array_size(b->responses) > 0) {
		conn_send(b->rc->conn, b->responses);
		b->responses = NULL;
	}
	json_decref(b->responses);
	free(b);
}

static void
rpc_req_free(struct rpc_req *req)
{
	if (req->deferred)
		TAILQ_REMOVE(&req->rc->reqs, req, entry);
	job_unwait(&req->w);
	if (req->timer != NULL)
		event_free(req->timer);
	json_decref(req->id);
	free(req);
}

/* The connection is gone: forget what it waited for. Jobs go on. */
void
rpc_conn_free(struct rpc_conn *rc)
{
	struct rpc_req	*req;

	while ((req = TAILQ_FIRST(&rc->reqs)) != NULL) {
		if (req->detach != NULL)
			req->detach(req->detach_arg);
		if (req->batch != NULL) {
			req->batch->rc = NULL;
			rpc_batch_unref(req->batch);
		}
		rpc_req_free(req);
	}
	free(rc);
}

int
rpc_conn_busy(const struct rpc_conn *rc)
{
	return !TAILQ_EMPTY(&rc->reqs);
}

/* Deliver the response (result or error, stolen) to a request. */
static void
rpc_reply(struct rpc_req *req, json_t *resp)
{
	if (req->id == NULL) {
		json_decref(resp);
		return;
	}
	if (req->batch != NULL)
		json_array_append_new(req->batch->responses, resp);
	else
		conn_send(req->rc->conn, resp);
}

/* A deferred request is answered: reply and free it. */
static void
rpc_finish(struct rpc_req *req, json_t *result)
{
	struct rpc_batch	*b = req->batch;

	rpc_reply(req, rpc_result_json(req->id, result));
	json_decref(result);
	rpc_req_free(req);
	if (b != NULL)
		rpc_batch_unref(b);
}

void
rpc_req_respond(struct rpc_req *req, json_t *result)
{
	rpc_finish(req, result);
}

/*
 * Answer with a result already encoded as JSON text (taken): job.map's
 * results are kept as text, a fraction of the memory of jansson trees.
 */
void
rpc_req_respond_text(struct rpc_req *req, char *text, size_t len)
{
	struct rpc_batch	*b = req->batch;
	json_error_t		 jerr;
	json_t			*v;
	char			*id, *bufs[3];
	size_t			 lens[3];

	if (req->id == NULL || b != NULL) {
		/* Rare: decode it again to join the batch's array. */
		if ((v = json_loadb(text, len, 0, &jerr)) == NULL)
			fatalx("%s: %s", __func__, jerr.text);
		free(text);
		rpc_finish(req, v);
		return;
	}
	/* Head, body and tail go out as three pieces: no copy of the body. */
	if ((id = json_dumps(req->id, JSON_ENCODE_ANY)) == NULL)
		fatalx("%s: json_dumps failed", __func__);
	lens[0] = (size_t)xasprintf(&bufs[0],
	    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":", id);
	free(id);
	bufs[1] = text;
	lens[1] = len;
	bufs[2] = xstrdup("}\n");
	lens[2] = 2;
	conn_send_pieces(req->rc->conn, bufs, lens, 3);
	rpc_req_free(req);
}

void
rpc_req_on_detach(struct rpc_req *req, void (*cb)(void *), void *arg)
{
	req->detach = cb;
	req->detach_arg = arg;
}

uid_t
rpc_req_uid(const struct rpc_req *req)
{
	return conn_uid(req->rc->conn);
}

int
rpc_req_admin(const struct rpc_req *req)
{
	return conn_admin(req->rc->conn);
}

int
rpc_req_is_notification(const struct rpc_req *req)
{
	return req->id == NULL;
}

/* Send a notification (params stolen) on the request's connection. */
void
rpc_req_notify(struct rpc_req *req, const char *method, json_t *params)
{
	conn_send(req->rc->conn, json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0",
	    "method", method, "params", params));
}

static void
rpc_job_done_cb(struct job *job, void *arg)
{
	rpc_finish(arg, job_record(job, 1));
}

static void
rpc_wait_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct rpc_req	*req = arg;
	struct job	*job = req->w.job;

	job_unwait(&req->w);
	rpc_finish(req, job_record(job, 1));
}

/* Look up params.id as a job this peer may see; -1 with err. */
static struct job *
rpc_find_job(struct rpc_req *req, json_t *params, struct rpcerr *err)
{
	struct job	*job;
	const char	*id;
	uid_t		 uid;

	if (arg_str(params, "id", NULL, &id, err) == -1)
		return NULL;
	if ((job = job_find(id)) == NULL) {
		rpcerr_set(err, RPC_UNKNOWN_JOB, "id", "unknown job %s", id);
		return NULL;
	}
	uid = conn_uid(req->rc->conn);
	if (uid != job->uid && !conn_admin(req->rc->conn)) {
		log_info("pid %ld uid %ld denied access to job %s of uid %ld",
		    (long)conn_pid(req->rc->conn), (long)uid, job->id,
		    (long)job->uid);
		rpcerr_set(err, RPC_FORBIDDEN, "id", "job %s belongs to "
		    "another user", id);
		return NULL;
	}
	return job;
}

/* Answer with the record now if finished, else when it finishes. */
static int
rpc_wait_for(struct rpc_req *req, struct job *job, json_t **result)
{
	if (JOB_FINISHED(job->state) || req->id == NULL) {
		*result = job_record(job, 1);
		return 0;
	}
	job_wait(job, &req->w, rpc_job_done_cb, req);
	return 1;
}

static int
rpc_job_submit(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	struct job	*job;
	int		 wait;

	if (arg_bool(params, "wait", 0, &wait, err) == -1)
		return -1;
	job = sched_submit(params, conn_uid(req->rc->conn), err);
	if (job == NULL)
		return -1;
	if (wait)
		return rpc_wait_for(req, job, result);
	*result = json_pack("{s:s, s:s}", "id", job->id, "state",
	    job_state_name(job->state));
	return 0;
}

static int
rpc_schedule_add(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	return schedule_add(params, rpc_req_uid(req), rpc_req_admin(req),
	    result, err);
}

static int
rpc_schedule_get(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	return schedule_get(params, rpc_req_uid(req), rpc_req_admin(req),
	    result, err);
}

static int
rpc_schedule_list(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	return schedule_list(params, rpc_req_uid(req), rpc_req_admin(req),
	    result, err);
}

static int
rpc_schedule_remove(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	return schedule_remove(params, rpc_req_uid(req), rpc_req_admin(req),
	    result, err);
}

static int
rpc_job_map(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	if (map_start(req, params, err) == -1)
		return -1;
	return 1;
}

static int
rpc_job_get(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	struct job	*job;

	if ((job = rpc_find_job(req, params, err)) == NULL)
		return -1;
	*result = job_record(job, 1);
	return 0;
}

static int
rpc_job_wait(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	struct job	*job;
	struct timeval	 tv;
	int64_t		 timeout_ms;
	int		 rv;

	if ((job = rpc_find_job(req, params, err)) == NULL)
		return -1;
	if (arg_int(params, "timeout_ms", 0, 0, INT64_C(86400000) * 7,
	    &timeout_ms, err) == -1)
		return -1;
	if ((rv = rpc_wait_for(req, job, result)) == 1 && timeout_ms > 0) {
		req->timer = evtimer_new(rpc_base, rpc_wait_timeout_cb, req);
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(req->timer, &tv);
	}
	return rv;
}

static int
rpc_job_cancel(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	struct job	*job;

	if ((job = rpc_find_job(req, params, err)) == NULL)
		return -1;
	sched_cancel(job, JOB_CANCELLED);
	*result = job_record(job, 1);
	return 0;
}

static int
rpc_job_list(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	static const char *const known[] = { "state", "type", "limit", NULL };
	const char	*state = NULL, *type = NULL;
	struct job	*job;
	json_t		*jobs;
	int64_t		 limit;
	int		 st = -1;
	uid_t		 uid = conn_uid(req->rc->conn);

	if (params == NULL)
		params = json_object();
	else
		json_incref(params);
	if (arg_only(params, known, err) == -1)
		goto fail;
	if (json_object_get(params, "state") != NULL) {
		if (arg_str(params, "state", NULL, &state, err) == -1)
			goto fail;
		if ((st = job_state_parse(state)) == -1) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "state",
			    "unknown state \"%s\"", state);
			goto fail;
		}
	}
	if (json_object_get(params, "type") != NULL &&
	    arg_str(params, "type", NULL, &type, err) == -1)
		goto fail;
	if (arg_int(params, "limit", RPC_LIST_DEFAULT, 1, RPC_LIST_MAX, &limit,
	    err) == -1)
		goto fail;

	/* Newest first. */
	jobs = json_array();
	for (job = job_last(); job != NULL && limit > 0; job = job_prev(job)) {
		if (st != -1 && job->state != (enum job_state)st)
			continue;
		if (type != NULL && strcmp(job->type->name, type) != 0)
			continue;
		if (job->uid != uid && !conn_admin(req->rc->conn))
			continue;
		json_array_append_new(jobs, job_record(job, 0));
		limit--;
	}
	json_decref(params);
	*result = json_pack("{s:o}", "jobs", jobs);
	return 0;

fail:
	json_decref(params);
	return -1;
}

static int
rpc_daemon_status(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	*result = metrics_status();
	return 0;
}

static int
rpc_daemon_metrics(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	char	*text = metrics_text();

	*result = json_pack("{s:s}", "text", text);
	free(text);
	return 0;
}

static int
rpc_daemon_types(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	*result = sched_types_json();
	return 0;
}

static int
rpc_daemon_reload(struct rpc_req *req, json_t *params, json_t **result,
    struct rpcerr *err)
{
	if (main_reload == NULL) {
		rpcerr_set(err, RPC_INTERNAL_ERROR, NULL, "reload unavailable");
		return -1;
	}
	if (main_reload(err) == -1)
		return -1;
	*result = json_pack("{s:b}", "reloaded", 1);
	return 0;
}

/*
 * Handle one request object. Returns the response (or NULL for a
 * notification, or when the request was deferred: *deferred is set).
 */
static json_t *
rpc_dispatch(struct rpc_conn *rc, struct rpc_batch *batch, json_t *msg,
    int *deferred)
{
	const struct rpc_method	*m = NULL;
	struct rpc_req		*req;
	struct rpcerr		 err;
	json_t			*id, *v, *params, *result = NULL, *resp;
	const char		*method;
	size_t			 i;
	int			 rv;

	*deferred = 0;
	if (!json_is_object(msg))
		return rpc_error_json(NULL, RPC_INVALID_REQUEST,
		    "request must be an object", NULL);
	id = json_object_get(msg, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id) &&
	    !json_is_null(id))
		return rpc_error_json(NULL, RPC_INVALID_REQUEST,
		    "id must be a string, an integer or null", NULL);
	v = json_object_get(msg, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		return rpc_error_json(id, RPC_INVALID_REQUEST,
		    "jsonrpc must be \"2.0\"", NULL);
	v = json_object_get(msg, "method");
	if (!json_is_string(v))
		return rpc_error_json(id, RPC_INVALID_REQUEST,
		    "method must be a string", NULL);
	method = json_string_value(v);
	params = json_object_get(msg, "params");
	if (params != NULL && !json_is_object(params)) {
		if (id == NULL)
			return NULL;
		memset(&err, 0, sizeof err);
		rpcerr_set(&err, RPC_INVALID_PARAMS, "params",
		    "must be an object");
		return rpcerr_json(id, &err);
	}
	for (i = 0; i < nitems(rpc_methods); i++) {
		if (strcmp(rpc_methods[i].name, method) == 0) {
			m = &rpc_methods[i];
			break;
		}
	}
	if (m == NULL) {
		if (id == NULL)
			return NULL;
		return rpc_error_json(id, RPC_METHOD_NOT_FOUND, NULL, NULL);
	}

	req = xcalloc(1, sizeof *req);
	req->rc = rc;
	req->id = id != NULL ? json_incref(id) : NULL;
	req->batch = batch;
	memset(&err, 0, sizeof err);
	if (params == NULL && m->need_params) {
		rpcerr_set(&err, RPC_INVALID_PARAMS, "params", "required");
		rv = -1;
	} else {
		/* Handlers may write defaults into params: use a copy. */
		params = params != NULL ? json_copy(params) : NULL;
		rv = m->fn(req, params, &result, &err);
		json_decref(params);
	}
	switch (rv) {
	case 1:
		req->deferred = 1;
		TAILQ_INSERT_TAIL(&rc->reqs, req, entry);
		*deferred = 1;
		return NULL;
	case 0:
		resp = id == NULL ? NULL : rpc_result_json(id, result);
		json_decref(result);
		break;
	default:
		if (err.code == RPC_INTERNAL_ERROR)
			log_warnx("%s: %s: %s", __func__, method, err.reason);
		resp = id == NULL ? NULL : rpcerr_json(id, &err);
		break;
	}
	rpc_req_free(req);
	return resp;
}

void
rpc_handle(struct conn *c, const char *line, size_t len)
{
	struct rpc_conn		*rc = conn_rpc(c);
	struct rpc_batch	*b;
	json_error_t		 jerr;
	json_t			*msg, *v, *resp;
	size_t			 i;
	int			 deferred;

	/* Blank lines (an interactive user's Enter) are ignored. */
	for (i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	}
	if (i == len)
		return;

	if ((msg = json_loadb(line, len, JSON_DECODE_ANY, &jerr)) == NULL) {
		log_debug("pid %ld: not JSON: %s", (long)conn_pid(c), jerr.text);
		conn_send(c, rpc_error_json(NULL, RPC_PARSE_ERROR, NULL, NULL));
		return;
	}
	if (!json_is_array(msg)) {
		resp = rpc_dispatch(rc, NULL, msg, &deferred);
		if (resp != NULL)
			conn_send(c, resp);
		json_decref(msg);
		return;
	}
	if (json_array_size(msg) == 0) {
		conn_send(c, rpc_error_json(NULL, RPC_INVALID_REQUEST,
		    "empty batch", NULL));
		json_decref(msg);
		return;
	}
	b = xcalloc(1, sizeof *b);
	b->rc = rc;
	b->responses = json_array();
	b->outstanding = 1;	/* held until every member is dispatched */
	json_array_foreach(msg, i, v) {
		resp = rpc_dispatch(rc, b, v, &deferred);
		if (resp != NULL)
			json_array_append_new(b->responses, resp);
		if (deferred)
			b->outstanding++;
	}
	json_decref(msg);
	rpc_batch_unref(b);
}
