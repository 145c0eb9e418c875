/*
 * JSON-RPC decoding and dispatch, in process: the real server, rpc, sched
 * and job modules with a fake engine.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct client *c;

static void
setup(void)
{
	fake_reset();
	fake_capacity = 1000;
	inproc_start(&fake_engine, &fake_engine);
	sched_register(&fake_type_io);
	sched_register(&fake_type_any);
	c = inproc_client();
}

static void
teardown(void)
{
	int	 i;

	/* Finish what the fake engine holds so nothing runs at teardown. */
	for (i = 0; i < fake_nstarted; i++) {
		if (fake_started[i]->state == JOB_RUNNING)
			fake_complete(fake_started[i]);
	}
	client_close(c);
	inproc_stop();
}

static int
error_code(json_t *r)
{
	return (int)json_integer_value(json_object_get(json_object_get(r,
	    "error"), "code"));
}

/* Each bad line gets exactly this error code, with this id. */
static const struct {
	const char	*line;
	int		 code;
	const char	*id;		/* JSON of the expected id */
	const char	*field;		/* error.data.field for -32602 */
} bad_lines[] = {
	{ "not json", RPC_PARSE_ERROR, "null", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"job.get\"", RPC_PARSE_ERROR,
	  "null", NULL },
	{ "\"\xff\xfe\"", RPC_PARSE_ERROR, "null", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\\u0000b\",\"method\":\"x\"}",
	  RPC_PARSE_ERROR, "null", NULL },
	{ "42", RPC_INVALID_REQUEST, "null", NULL },
	{ "[]", RPC_INVALID_REQUEST, "null", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1}", RPC_INVALID_REQUEST, "1", NULL },
	{ "{\"jsonrpc\":\"1.0\",\"id\":2,\"method\":\"job.list\"}",
	  RPC_INVALID_REQUEST, "2", NULL },
	{ "{\"id\":3,\"method\":\"job.list\"}", RPC_INVALID_REQUEST, "3", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"job.list\"}",
	  RPC_INVALID_REQUEST, "null", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":7}", RPC_INVALID_REQUEST,
	  "4", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"no.such\"}",
	  RPC_METHOD_NOT_FOUND, "5", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"job.get\","
	  "\"params\":[1]}", RPC_INVALID_PARAMS, "\"s\"", "params" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"job.get\"}",
	  RPC_INVALID_PARAMS, "6", "params" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"job.get\",\"params\":{}}",
	  RPC_INVALID_PARAMS, "7", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"job.get\","
	  "\"params\":{\"id\":\"nope\"}}", RPC_UNKNOWN_JOB, "8", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"job.submit\","
	  "\"params\":{}}", RPC_INVALID_PARAMS, "9", "type" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"nope\"}}", RPC_INVALID_PARAMS, "10", "type" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"args\":[]}}", RPC_INVALID_PARAMS,
	  "11", "args" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"args\":{\"n\":\"x\"}}}",
	  RPC_INVALID_PARAMS, "12", "n" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"args\":{\"zz\":1}}}",
	  RPC_INVALID_PARAMS, "13", "zz" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"class\":\"gpu\"}}",
	  RPC_INVALID_PARAMS, "14", "class" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"class\":\"cpu\"}}",
	  RPC_INVALID_PARAMS, "15", "class" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"priority\":1.5}}",
	  RPC_INVALID_PARAMS, "16", "priority" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"wait\":\"yes\"}}",
	  RPC_INVALID_PARAMS, "17", "wait" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":18,\"method\":\"job.submit\","
	  "\"params\":{\"type\":\"t_io\",\"bogus\":1}}",
	  RPC_INVALID_PARAMS, "18", "bogus" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":19,\"method\":\"job.list\","
	  "\"params\":{\"state\":\"sleeping\"}}", RPC_INVALID_PARAMS, "19",
	  "state" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"job.list\","
	  "\"params\":{\"limit\":0}}", RPC_INVALID_PARAMS, "20", "limit" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"daemon.reload\"}",
	  RPC_INTERNAL_ERROR, "21", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":22,\"method\":\"job.wait\","
	  "\"params\":{\"id\":\"x\",\"timeout_ms\":-1}}", RPC_UNKNOWN_JOB, "22",
	  NULL },
};

START_TEST(test_bad_line)
{
	json_t		*r, *want_id, *data;
	json_error_t	 jerr;

	r = inproc_line(c, bad_lines[_i].line);
	ck_assert_msg(r != NULL, "no answer to %s", bad_lines[_i].line);
	ck_assert_int_eq(error_code(r), bad_lines[_i].code);
	ck_assert_ptr_null(json_object_get(r, "result"));
	ck_assert_str_eq(json_string_value(json_object_get(r, "jsonrpc")), "2.0");
	want_id = json_loads(bad_lines[_i].id, JSON_DECODE_ANY, &jerr);
	ck_assert_msg(json_equal(want_id, json_object_get(r, "id")),
	    "wrong id for %s", bad_lines[_i].line);
	data = json_object_get(json_object_get(r, "error"), "data");
	if (bad_lines[_i].field != NULL)
		ck_assert_str_eq(json_string_value(json_object_get(data,
		    "field")), bad_lines[_i].field);
	json_decref(want_id);
	json_decref(r);

	/* The connection still serves. */
	r = inproc_call(c, "daemon.types", NULL);
	ck_assert_ptr_nonnull(json_object_get(r, "result"));
	json_decref(r);
}
END_TEST

START_TEST(test_notification_unanswered)
{
	json_t	*r;

	/* Two notifications (one of them bad), then a call: only it answers. */
	r = inproc_line(c, "{\"jsonrpc\":\"2.0\",\"method\":\"job.submit\","
	    "\"params\":{\"type\":\"t_io\"}}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"last\",\"method\":\"job.list\"}");
	ck_assert_str_eq(json_string_value(json_object_get(r, "id")), "last");
	/* The notification's job was really submitted. */
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(r,
	    "result"), "jobs")), 1);
	json_decref(r);
	ck_assert_int_eq(fake_nstarted, 1);
}
END_TEST

START_TEST(test_batch)
{
	json_t	*r, *v;
	size_t	 i;
	int	 seen_a = 0, seen_b = 0;

	r = inproc_line(c, "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":"
	    "\"daemon.types\"},{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":"
	    "\"nope\"},{\"jsonrpc\":\"2.0\",\"method\":\"job.list\"},5]");
	ck_assert(json_is_array(r));
	ck_assert_int_eq(json_array_size(r), 3);
	json_array_foreach(r, i, v) {
		json_t *id = json_object_get(v, "id");
		if (json_is_string(id) && strcmp(json_string_value(id), "a") == 0) {
			seen_a++;
			ck_assert_ptr_nonnull(json_object_get(v, "result"));
		} else if (json_is_string(id) &&
		    strcmp(json_string_value(id), "b") == 0) {
			seen_b++;
			ck_assert_int_eq(error_code(v), RPC_METHOD_NOT_FOUND);
		} else
			ck_assert_int_eq(error_code(v), RPC_INVALID_REQUEST);
	}
	ck_assert_int_eq(seen_a, 1);
	ck_assert_int_eq(seen_b, 1);
	json_decref(r);
}
END_TEST

/* A batch whose member waits for a job is answered when the job ends. */
START_TEST(test_batch_deferred)
{
	json_t	*r;

	static const char batch[] = "[{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"job.submit\",\"params\":{\"type\":\"t_io\",\"wait\":"
	    "true}},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"job.list\"}]\n";

	ck_assert_int_eq(client_send_raw(c, batch, sizeof batch - 1), 0);
	inproc_pump();
	ck_assert_int_eq(fake_nstarted, 1);
	r = client_recv(c, 50);
	ck_assert_ptr_null(r);		/* not before the job ends */
	/* Blank lines get nothing. */
	ck_assert_int_eq(client_send_raw(c, "\n  \n", 4), 0);
	inproc_pump();
	ck_assert_ptr_null(client_recv(c, 50));
	fake_complete(fake_started[0]);
	inproc_pump();
	r = client_recv(c, 1000);
	ck_assert(json_is_array(r));
	ck_assert_int_eq(json_array_size(r), 2);
	json_decref(r);
}
END_TEST

/*
 * 2000 pipelined requests in one write: every one answered once, and an
 * early request that waits for a job does not hold back later ones.
 */
START_TEST(test_pipelining)
{
	char	*buf = NULL, *line;
	size_t	 len = 0, n;
	json_t	*r;
	int	 i, seen[2001] = { 0 }, id, order = 0, waiter_pos = -1;

	for (i = 0; i <= 2000; i++) {
		if (i == 0)
			n = xasprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":0,"
			    "\"method\":\"job.submit\",\"params\":{\"type\":"
			    "\"t_io\",\"wait\":true}}\n");
		else
			n = xasprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,"
			    "\"method\":\"job.submit\",\"params\":{\"type\":"
			    "\"t_any\",\"args\":{\"n\":%d}}}\n", i, i % 1000);
		buf = xreallocarray(buf, len + n, 1);
		memcpy(buf + len, line, n);
		len += n;
		free(line);
	}
	fake_capacity = 1;	/* job 0 holds the only slot */
	ck_assert_int_eq(client_send_raw(c, buf, len), 0);
	free(buf);
	for (i = 0; i < 2000; i++) {
		inproc_pump();
		r = client_recv(c, 1000);
		ck_assert_msg(r != NULL, "answer %d missing", i);
		id = (int)json_integer_value(json_object_get(r, "id"));
		ck_assert(id >= 1 && id <= 2000);
		ck_assert_int_eq(seen[id]++, 0);
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_object_get(r, "result"), "state")), "queued");
		json_decref(r);
		order++;
	}
	ck_assert_int_eq(fake_nstarted, 1);
	fake_capacity = 5000;
	fake_complete(fake_started[0]);
	inproc_pump();
	r = client_recv(c, 1000);
	ck_assert_ptr_nonnull(r);
	waiter_pos = (int)json_integer_value(json_object_get(r, "id"));
	ck_assert_int_eq(waiter_pos, 0);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_object_get(r, "result"), "state")), "done");
	json_decref(r);
	ck_assert_int_eq(fake_nstarted, 2001);
}
END_TEST

START_TEST(test_too_large)
{
	json_t		*r;
	char		*big;
	size_t		 n = 4096;
	struct client	*c2;

	cfg->max_request_bytes = 1024;
	big = xmalloc(n);
	memset(big, ' ', n);
	big[0] = '[';
	ck_assert_int_eq(client_send_raw(c, big, n), 0);	/* no newline yet */
	free(big);
	inproc_pump();
	r = client_recv(c, 1000);
	ck_assert_int_eq(error_code(r), RPC_TOO_LARGE);
	json_decref(r);
	inproc_pump();
	/* Then the connection is closed ... */
	r = client_recv(c, 200);
	ck_assert_ptr_null(r);
	/* ... and the daemon serves others. */
	c2 = inproc_client();
	r = inproc_call(c2, "job.list", NULL);
	ck_assert_ptr_nonnull(json_object_get(r, "result"));
	json_decref(r);
	client_close(c2);
}
END_TEST

START_TEST(test_overloaded)
{
	json_t	*r, *p = json_pack("{s:s}", "type", "t_io");
	int	 i;

	fake_capacity = 0;
	cfg->max_queued = 3;
	for (i = 0; i < 3; i++) {
		r = inproc_call(c, "job.submit", json_deep_copy(p));
		ck_assert_ptr_nonnull(json_object_get(r, "result"));
		json_decref(r);
	}
	r = inproc_call(c, "job.submit", json_deep_copy(p));
	ck_assert_int_eq(error_code(r), RPC_OVERLOADED);
	ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(
	    json_object_get(r, "error"), "data"), "retry_after_ms")), 0);
	json_decref(r);
	json_decref(p);
}
END_TEST

START_TEST(test_shutting_down)
{
	json_t	*r;

	sched_draining = 1;
	r = inproc_call(c, "job.submit", json_pack("{s:s}", "type", "t_io"));
	ck_assert_int_eq(error_code(r), RPC_SHUTTING_DOWN);
	json_decref(r);
	/* Reads still work while draining. */
	r = inproc_call(c, "job.list", NULL);
	ck_assert_ptr_nonnull(json_object_get(r, "result"));
	json_decref(r);
	sched_draining = 0;
}
END_TEST

START_TEST(test_record_and_wait)
{
	json_t		*r, *rec;
	const char	*id;
	char		 idbuf[64];

	r = inproc_call(c, "job.submit", json_pack("{s:s, s:{s:i}, s:s, s:i}",
	    "type", "t_io", "args", "n", 7, "tag", "hello", "priority", 3));
	id = json_string_value(json_object_get(json_object_get(r, "result"),
	    "id"));
	ck_assert_ptr_nonnull(id);
	snprintf(idbuf, sizeof idbuf, "%s", id);
	json_decref(r);

	/* job.wait with a timeout answers with the record as it stands. */
	r = inproc_call(c, "job.wait", json_pack("{s:s, s:i}", "id", idbuf,
	    "timeout_ms", 20));
	rec = json_object_get(r, "result");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")),
	    "running");
	json_decref(r);

	fake_complete(fake_started[0]);
	r = inproc_call(c, "job.get", json_pack("{s:s}", "id", idbuf));
	rec = json_object_get(r, "result");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")),
	    "done");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "tag")),
	    "hello");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "class")), "io");
	ck_assert_int_eq(json_integer_value(json_object_get(rec, "attempts")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(rec, "priority")), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rec,
	    "result"), "echo")), idbuf);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rec,
	    "args"), "n")), 7);
	ck_assert(json_is_number(json_object_get(rec, "queue_ms")));
	ck_assert(json_is_number(json_object_get(rec, "run_ms")));
	ck_assert_int_eq(strlen(json_string_value(json_object_get(rec,
	    "finished_at"))), 24);
	json_decref(r);

	/* Cancel of a finished job changes nothing. */
	r = inproc_call(c, "job.cancel", json_pack("{s:s}", "id", idbuf));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r,
	    "result"), "state")), "done");
	json_decref(r);
}
END_TEST

START_TEST(test_list_filters)
{
	json_t	*r, *jobs;
	int	 i;

	fake_capacity = 2;
	for (i = 0; i < 5; i++) {
		r = inproc_call(c, "job.submit", json_pack("{s:s}", "type",
		    i % 2 ? "t_io" : "t_any"));
		json_decref(r);
	}
	r = inproc_call(c, "job.list", json_pack("{s:s}", "state", "queued"));
	jobs = json_object_get(json_object_get(r, "result"), "jobs");
	ck_assert_int_eq(json_array_size(jobs), 3);
	json_decref(r);
	r = inproc_call(c, "job.list", json_pack("{s:s, s:i}", "type", "t_any",
	    "limit", 2));
	jobs = json_object_get(json_object_get(r, "result"), "jobs");
	ck_assert_int_eq(json_array_size(jobs), 2);
	ck_assert_ptr_null(json_object_get(json_array_get(jobs, 0), "result"));
	json_decref(r);
}
END_TEST

/* Collect messages until the response to id arrives; notifications kept. */
static json_t *
map_collect(json_t *notes, json_int_t id)
{
	json_t	*r;
	int	 i;

	for (i = 0; i < 5000; i++) {
		inproc_pump();
		if ((r = client_recv(c, 1)) == NULL) {
			if (errno != ETIMEDOUT)
				ck_abort_msg("recv: %s", strerror(errno));
			continue;
		}
		if (json_object_get(r, "id") != NULL &&
		    json_integer_value(json_object_get(r, "id")) == id)
			return r;
		json_array_append_new(notes, r);
	}
	ck_abort_msg("no answer to the map");
	return NULL;
}

static void
send_map(json_int_t id, json_t *params)
{
	json_t	*req;

	req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id,
	    "method", "job.map", "params", params);
	ck_assert_int_eq(client_send(c, req), 0);
	json_decref(req);
}

static json_t *
items(int n)
{
	json_t	*a = json_array();
	int	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:i}", "n", i % 1000));
	return a;
}

/*
 * results[i] belongs to items[i] even when the items finish in reverse;
 * stream sends one job.done per item in completion order.
 */
START_TEST(test_map_order_and_stream)
{
	json_t	*notes = json_array(), *r, *res, *rec;
	int	 i, n = 20;
	size_t	 k;

	fake_capacity = 1000;
	send_map(77, json_pack("{s:s, s:o, s:b}", "type", "t_io", "items",
	    items(n), "stream", 1));
	for (i = 0; i < 50 && fake_nstarted < n; i++)
		inproc_pump();
	ck_assert_int_eq(fake_nstarted, n);
	for (i = n - 1; i >= 0; i--)
		fake_complete(fake_started[i]);
	r = map_collect(notes, 77);
	res = json_object_get(harness_ok(r), "results");
	ck_assert_int_eq(json_array_size(res), n);
	json_array_foreach(res, k, rec) {
		ck_assert_int_eq(json_integer_value(json_object_get(rec,
		    "index")), k);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_object_get(rec, "args"), "n")), k);
		ck_assert_str_eq(json_string_value(json_object_get(rec,
		    "state")), "done");
	}
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    harness_ok(r), "summary"), "done")), n);
	/* Streamed in completion order: the last item first. */
	ck_assert_int_eq(json_array_size(notes), n);
	json_array_foreach(notes, k, rec) {
		ck_assert_str_eq(json_string_value(json_object_get(rec,
		    "method")), "job.done");
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_object_get(rec, "params"), "index")), n - 1 - (int)k);
	}
	json_decref(r);
	json_decref(notes);
}
END_TEST

/* Only a window of items are jobs at once; the rest wait their turn. */
START_TEST(test_map_window)
{
	json_t	*notes = json_array(), *r;
	int	 i, n = 3000;

	cfg->max_transfers = 10;	/* the io window */
	fake_capacity = 1000;
	send_map(78, json_pack("{s:s, s:o, s:b}", "type", "t_io", "items",
	    items(n), "progress", 1));
	inproc_pump();
	ck_assert_int_eq(fake_nstarted, 10);
	ck_assert_int_eq(job_table_size(), 10);
	for (i = 0; i < n; i++) {
		ck_assert_int_lt(i, fake_nstarted);
		ck_assert_int_le(fake_running, 10);
		fake_complete(fake_started[i]);
		inproc_pump();
	}
	ck_assert_int_eq(map_count(), 0);
	r = map_collect(notes, 78);
	ck_assert_int_eq(json_array_size(json_object_get(harness_ok(r),
	    "results")), n);
	/* At least the closing progress note, with every item done. */
	ck_assert_int_ge(json_array_size(notes), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_array_get(notes, json_array_size(notes) - 1), "params"),
	    "done")), n);
	json_decref(r);
	json_decref(notes);
}
END_TEST

/* The map's timeout ends running items and never-started ones alike. */
START_TEST(test_map_timeout)
{
	json_t	*notes = json_array(), *r, *res, *sum;
	int	 i;

	cfg->max_transfers = 2;
	fake_capacity = 1000;
	send_map(79, json_pack("{s:s, s:o, s:i}", "type", "t_io", "items",
	    items(6), "timeout_ms", 100));
	inproc_pump();
	ck_assert_int_eq(fake_nstarted, 2);
	fake_complete(fake_started[0]);
	inproc_pump();
	for (i = 0; i < 300; i++) {
		usleep(1000);
		inproc_pump();
	}
	r = map_collect(notes, 79);
	res = json_object_get(harness_ok(r), "results");
	sum = json_object_get(harness_ok(r), "summary");
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "done")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "timeout")), 5);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res,
	    0), "state")), "done");
	for (i = 1; i < 6; i++)
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_array_get(res, i), "state")), "timeout");
	json_decref(r);
	json_decref(notes);
}
END_TEST

/* Bad items fail alone; an empty map answers at once. */
START_TEST(test_map_bad_items)
{
	json_t	*notes = json_array(), *r, *res, *it;

	fake_capacity = 1000;
	it = json_pack("[{s:i}, {s:s}, {s:i}]", "n", 1, "n", "x", "n", 2);
	send_map(80, json_pack("{s:s, s:o}", "type", "t_io", "items", it));
	inproc_pump();
	fake_complete(fake_started[0]);
	fake_complete(fake_started[1]);
	r = map_collect(notes, 80);
	res = json_object_get(harness_ok(r), "results");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res,
	    1), "state")), "failed");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_array_get(res, 1), "error"), "code")), "invalid_args");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res,
	    2), "state")), "done");
	json_decref(r);

	send_map(81, json_pack("{s:s, s:[]}", "type", "t_io", "items"));
	r = map_collect(notes, 81);
	ck_assert_int_eq(json_array_size(json_object_get(harness_ok(r),
	    "results")), 0);
	json_decref(r);

	r = inproc_call(c, "job.map", json_pack("{s:s, s:[i]}", "type", "t_io",
	    "items", 3));
	ck_assert_int_eq(error_code(r), RPC_INVALID_PARAMS);
	json_decref(r);
	json_decref(notes);
}
END_TEST

/* A client that leaves mid-map cancels nothing; its jobs finish. */
START_TEST(test_map_disconnect)
{
	int	 i;

	fake_capacity = 1000;
	send_map(82, json_pack("{s:s, s:o}", "type", "t_io", "items",
	    items(5)));
	inproc_pump();
	ck_assert_int_eq(fake_nstarted, 5);
	client_close(c);
	inproc_pump();
	c = inproc_client();
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(fake_started[i]->state, JOB_RUNNING);
		fake_complete(fake_started[i]);
	}
	inproc_pump();
	ck_assert_int_eq(job_count(JOB_DONE), 5);
	ck_assert_int_eq(map_count(), 0);
}
END_TEST

/* Counters and histograms follow finished jobs. */
START_TEST(test_metrics)
{
	json_t		*r, *lat;
	const char	*text;
	int		 i;

	fake_capacity = 10;
	for (i = 0; i < 3; i++) {
		r = inproc_call(c, "job.submit", json_pack("{s:s}", "type",
		    "t_io"));
		json_decref(r);
	}
	r = inproc_call(c, "job.submit", json_pack("{s:s, s:s}", "type",
	    "t_any", "class", "cpu"));
	json_decref(r);
	for (i = 0; i < 3; i++)
		fake_complete(fake_started[i]);
	sched_cancel(fake_started[3], JOB_CANCELLED);

	r = inproc_call(c, "daemon.metrics", NULL);
	text = json_string_value(json_object_get(harness_ok(r), "text"));
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "jobd_jobs_finished_total{type="
	    "\"t_io\",class=\"io\",state=\"done\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "jobd_jobs_finished_total{type="
	    "\"t_any\",class=\"cpu\",state=\"cancelled\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "jobd_job_latency_seconds_count{"
	    "type=\"t_io\",class=\"io\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "jobd_job_latency_seconds_bucket{"
	    "type=\"t_io\",class=\"io\",le=\"+Inf\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE jobd_queue_depth gauge\n"));
	json_decref(r);

	r = inproc_call(c, "daemon.status", NULL);
	lat = json_object_get(harness_ok(r), "latency");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_object_get(lat, "class"), "io"), "count")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_object_get(lat, "class"), "cpu"), "count")), 1);
	ck_assert(json_real_value(json_object_get(json_object_get(
	    json_object_get(lat, "type"), "t_io"), "p99_ms")) >= 0.0);
	json_decref(r);
}
END_TEST

/* One answer bigger than max_output_bytes still goes out whole. */
START_TEST(test_map_big_answer)
{
	json_t	*notes = json_array(), *r;
	int	 i, n = 1500;

	cfg->max_output_bytes = 64 * 1024;
	cfg->max_transfers = 5000;
	fake_capacity = 5000;
	send_map(83, json_pack("{s:s, s:o}", "type", "t_io", "items",
	    items(n)));
	for (i = 0; i < 20 && fake_nstarted < n; i++)
		inproc_pump();
	ck_assert_int_eq(fake_nstarted, n);
	for (i = 0; i < n; i++)
		fake_complete(fake_started[i]);
	r = map_collect(notes, 83);
	ck_assert_int_eq(json_array_size(json_object_get(harness_ok(r),
	    "results")), n);
	json_decref(r);
	json_decref(notes);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("rpc");
	TCase	*tc = tcase_create("rpc");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_bad_line, 0, (int)nitems(bad_lines));
	tcase_add_test(tc, test_notification_unanswered);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_batch_deferred);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_overloaded);
	tcase_add_test(tc, test_shutting_down);
	tcase_add_test(tc, test_record_and_wait);
	tcase_add_test(tc, test_list_filters);
	tcase_add_test(tc, test_map_order_and_stream);
	tcase_add_test(tc, test_map_window);
	tcase_add_test(tc, test_map_timeout);
	tcase_add_test(tc, test_map_bad_items);
	tcase_add_test(tc, test_map_disconnect);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_map_big_answer);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
