/*
 * The scheduler and the job table, in process with a fake engine:
 * priority order, FIFO within a priority, class override, cancel, run
 * timeouts, result expiry.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static void
setup(void)
{
	fake_reset();
	inproc_start(&fake_engine, &fake_engine);
	sched_register(&fake_type_io);
	sched_register(&fake_type_any);
	sched_register(&fake_type_ping);
}

static void
teardown(void)
{
	int	 i;

	schedule_shutdown();
	for (i = 0; i < fake_nstarted; i++) {
		if (fake_started[i]->state == JOB_RUNNING)
			fake_complete(fake_started[i]);
	}
	inproc_stop();
}

static struct job *
submit(const char *type, int priority, int n)
{
	struct rpcerr	 err;
	struct job	*job;
	json_t		*p;

	memset(&err, 0, sizeof err);
	p = json_pack("{s:s, s:i, s:{s:i}}", "type", type, "priority", priority,
	    "args", "n", n);
	job = sched_submit(p, getuid(), &err);
	ck_assert_msg(job != NULL, "submit: %s", err.reason);
	json_decref(p);
	return job;
}

/* Jobs start highest priority first, in submission order within one. */
START_TEST(test_priority_order)
{
	static const struct { int prio, n; } in[] = {
		{ 0, 1 }, { 5, 2 }, { 0, 3 }, { 5, 4 }, { 10, 5 }, { -1, 6 },
		{ 10, 7 }, { 0, 8 }, { -7, 9 }, { 5, 10 },
	};
	static const int want[] = { 5, 7, 2, 4, 10, 1, 3, 8, 6, 9 };
	size_t	 i;

	for (i = 0; i < nitems(in); i++)
		submit("t_io", in[i].prio, in[i].n);
	ck_assert_int_eq(sched_queued(CLASS_IO), nitems(in));
	ck_assert_int_eq(fake_nstarted, 0);
	fake_capacity = 1;
	sched_kick(CLASS_IO);
	for (i = 0; i < nitems(want); i++) {
		ck_assert_int_eq(fake_nstarted, (int)i + 1);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    fake_started[i]->args, "n")), want[i]);
		fake_complete(fake_started[i]);	/* frees the slot: next starts */
	}
	ck_assert_int_eq(sched_queued(CLASS_IO), 0);
	ck_assert_int_eq(job_count(JOB_DONE), nitems(in));
}
END_TEST

START_TEST(test_class_override)
{
	struct rpcerr	 err;
	struct job	*a, *b;
	json_t		*p;

	a = submit("t_any", 0, 1);
	ck_assert_int_eq(a->class, CLASS_IO);
	p = json_pack("{s:s, s:s}", "type", "t_any", "class", "cpu");
	b = sched_submit(p, getuid(), &err);
	json_decref(p);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->class, CLASS_CPU);
	ck_assert_int_eq(sched_queued(CLASS_CPU), 1);
	ck_assert_int_eq(sched_queued(CLASS_IO), 1);

	p = json_pack("{s:s, s:s}", "type", "t_io", "class", "cpu");
	ck_assert_ptr_null(sched_submit(p, getuid(), &err));
	json_decref(p);
	ck_assert_int_eq(err.code, RPC_INVALID_PARAMS);
	ck_assert_str_eq(err.field, "class");
}
END_TEST

START_TEST(test_cancel_queued)
{
	struct job	*a, *b, *c;

	a = submit("t_io", 0, 1);
	b = submit("t_io", 0, 2);
	c = submit("t_io", 0, 3);
	sched_cancel(b, JOB_CANCELLED);
	ck_assert_int_eq(b->state, JOB_CANCELLED);
	ck_assert_str_eq(b->err_code, "cancelled");
	ck_assert_int_eq(sched_queued(CLASS_IO), 2);
	fake_capacity = 10;
	sched_kick(CLASS_IO);
	ck_assert_int_eq(fake_nstarted, 2);
	ck_assert_ptr_eq(fake_started[0], a);
	ck_assert_ptr_eq(fake_started[1], c);
	/* A running job's cancel goes to its engine. */
	sched_cancel(a, JOB_CANCELLED);
	ck_assert_int_eq(fake_ncancels, 1);
	ck_assert_int_eq(a->state, JOB_CANCELLED);
	/* A finished job's cancel is a no-op. */
	sched_cancel(a, JOB_CANCELLED);
	ck_assert_int_eq(fake_ncancels, 1);
}
END_TEST

START_TEST(test_run_timeout)
{
	struct rpcerr	 err;
	struct job	*job;
	json_t		*p;
	int		 i;

	fake_capacity = 1;
	p = json_pack("{s:s, s:i}", "type", "t_io", "timeout_ms", 30);
	job = sched_submit(p, getuid(), &err);
	json_decref(p);
	ck_assert_int_eq(job->state, JOB_RUNNING);
	for (i = 0; i < 200 && job->state == JOB_RUNNING; i++) {
		usleep(5000);
		inproc_pump();
	}
	ck_assert_int_eq(job->state, JOB_TIMEOUT);
	ck_assert_str_eq(job->err_code, "timeout");
	ck_assert_int_eq(fake_ncancels, 1);
}
END_TEST

START_TEST(test_expiry)
{
	struct job	*job;
	char		 id[32];
	int		 i;

	cfg->result_ttl_s = 1;
	fake_capacity = 1;
	job = submit("t_io", 0, 1);
	snprintf(id, sizeof id, "%s", job->id);
	ck_assert_ptr_eq(job_find(id), job);
	fake_complete(job);
	ck_assert_ptr_eq(job_find(id), job);	/* retained */
	job_hold(job);
	for (i = 0; i < 50; i++) {
		usleep(50000);
		inproc_pump();
	}
	ck_assert_ptr_eq(job_find(id), job);	/* held: kept past its ttl */
	job_release(job);
	job_expire();
	fake_nstarted = 0;		/* the fake's pointer is gone too */
	ck_assert_ptr_null(job_find(id));
	ck_assert_int_eq(job_table_size(), 0);
	ck_assert_int_eq(job_total(JOB_DONE), 1);
}
END_TEST

/* Ids are unique and the hash table survives growth. */
START_TEST(test_many_jobs)
{
	static struct job *jobs[5000];
	int	 i;

	for (i = 0; i < 5000; i++)
		jobs[i] = submit("t_io", i % 7, i % 1000);
	for (i = 0; i < 5000; i++)
		ck_assert_ptr_eq(job_find(jobs[i]->id), jobs[i]);
	ck_assert_int_eq(job_table_size(), 5000);
	ck_assert_int_eq(job_count(JOB_QUEUED), 5000);
}
END_TEST

static json_t *
sched_call(int (*fn)(json_t *, uid_t, int, json_t **, struct rpcerr *),
    json_t *params)
{
	struct rpcerr	 err;
	json_t		*res = NULL;

	memset(&err, 0, sizeof err);
	ck_assert_msg(fn(params, getuid(), 0, &res, &err) == 0, "%s: %s",
	    err.field, err.reason);
	json_decref(params);
	return res;
}

static json_t *
sched_get(const char *id)
{
	return sched_call(schedule_get, json_pack("{s:s}", "id", id));
}

/* Pump the loop for ms milliseconds, finishing runs with result (or not). */
static void
run_for(int ms, int complete)
{
	uint64_t	 end = now_mono_us() + (uint64_t)ms * 1000;
	int		 i;

	while (now_mono_us() < end) {
		usleep(2000);
		inproc_pump();
		if (!complete)
			continue;
		for (i = 0; i < fake_nstarted; i++) {
			if (fake_started[i]->state == JOB_RUNNING)
				fake_complete(fake_started[i]);
		}
	}
}

/* Runs come every every_ms; the ring keeps only the last `keep`. */
START_TEST(test_schedule_cadence_and_ring)
{
	json_t		*r, *g;
	char		 id[32];
	json_int_t	 runs;

	fake_capacity = 10;
	r = sched_call(schedule_add, json_pack("{s:{s:s}, s:i, s:i}", "job",
	    "type", "t_io", "every_ms", 100, "keep", 3));
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r,
	    "id")));
	json_decref(r);
	run_for(1050, 1);
	g = sched_get(id);
	runs = json_integer_value(json_object_get(g, "runs"));
	/* The first run at once, then one per 100 ms: 11, with slack. */
	ck_assert_msg(runs >= 5 && runs <= 13, "runs %lld", (long long)runs);
	ck_assert_int_eq(json_integer_value(json_object_get(g, "skipped")), 0);
	ck_assert_int_eq(json_array_size(json_object_get(g, "results")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(g, "kept")), 3);
	/* The ring holds the latest runs, oldest first. */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(g, "results"), 2), "job")),
	    fake_started[fake_nstarted - 1]->id);
	ck_assert_ptr_null(json_object_get(g, "availability"));
	json_decref(g);

	r = sched_call(schedule_remove, json_pack("{s:s}", "id", id));
	json_decref(r);
	run_for(300, 1);
	ck_assert_int_eq(fake_nstarted, runs);	/* no more runs */
}
END_TEST

/* A run that takes longer than the period is never doubled up. */
START_TEST(test_schedule_no_overlap)
{
	json_t		*r, *g;
	char		 id[32];

	fake_capacity = 10;
	r = sched_call(schedule_add, json_pack("{s:{s:s}, s:i}", "job",
	    "type", "t_io", "every_ms", 100));
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r,
	    "id")));
	json_decref(r);
	run_for(550, 0);
	ck_assert_int_eq(fake_nstarted, 1);
	g = sched_get(id);
	ck_assert_int_eq(json_integer_value(json_object_get(g, "runs")), 1);
	ck_assert_int_ge(json_integer_value(json_object_get(g, "skipped")), 3);
	ck_assert_str_eq(json_string_value(json_object_get(g, "running")),
	    fake_started[0]->id);
	json_decref(g);
}
END_TEST

/* The state flips only after flip_after agreeing results. */
START_TEST(test_schedule_flapping)
{
	static const struct { int up; const char *state; } steps[] = {
		{ 1, "unknown" }, { 1, "up" }, { 0, "up" }, { 1, "up" },
		{ 0, "up" }, { 0, "down" }, { 1, "down" }, { 0, "down" },
		{ 1, "down" }, { 1, "up" },
	};
	json_t		*r, *g, *av;
	char		 id[32];
	size_t		 i;
	int		 n, ups = 0, j;

	fake_capacity = 10;
	r = sched_call(schedule_add, json_pack("{s:{s:s}, s:i, s:i, s:i}",
	    "job", "type", "ping", "every_ms", 100, "keep", 4, "flip_after", 2));
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r,
	    "id")));
	json_decref(r);
	for (i = 0; i < nitems(steps); i++) {
		n = fake_nstarted;
		for (j = 0; j < 1000 && (fake_nstarted == n ||
		    fake_started[fake_nstarted - 1]->state != JOB_RUNNING); j++)
			run_for(5, 0);
		ck_assert_int_eq(fake_nstarted, n + 1);
		fake_complete_with(fake_started[n], json_pack("{s:b, s:f}",
		    "up", steps[i].up, "latency_ms", 1.5 + (double)i));
		g = sched_get(id);
		av = json_object_get(g, "availability");
		ck_assert_msg(strcmp(json_string_value(json_object_get(av,
		    "state")), steps[i].state) == 0, "step %zu: %s, want %s", i,
		    json_string_value(json_object_get(av, "state")),
		    steps[i].state);
		ck_assert(json_real_value(json_object_get(av,
		    "last_latency_ms")) == 1.5 + (double)i);
		json_decref(g);
	}
	/* up_ratio over the last 4 kept: 0,1,1 and the 7th..10th steps. */
	for (i = nitems(steps) - 4; i < nitems(steps); i++)
		ups += steps[i].up;
	g = sched_get(id);
	av = json_object_get(g, "availability");
	ck_assert(json_real_value(json_object_get(av, "up_ratio")) ==
	    (double)ups / 4.0);
	ck_assert(json_is_string(json_object_get(av, "since")));
	json_decref(g);
}
END_TEST

START_TEST(test_schedule_bad_params)
{
	static const char *bad[] = {
		"{\"job\":{\"type\":\"t_io\"},\"every_ms\":50}",
		"{\"job\":{\"type\":\"t_io\"}}",
		"{\"job\":{\"type\":\"nope\"},\"every_ms\":1000}",
		"{\"job\":\"t_io\",\"every_ms\":1000}",
		"{\"job\":{\"type\":\"t_io\"},\"every_ms\":1000,\"keep\":0}",
		"{\"job\":{\"type\":\"t_io\"},\"every_ms\":1000,"
		    "\"jitter_ms\":2000}",
		"{\"job\":{\"type\":\"t_io\",\"wait\":true},\"every_ms\":1000}",
		"{\"job\":{\"type\":\"t_io\",\"args\":{\"n\":\"x\"}},"
		    "\"every_ms\":1000}",
	};
	struct rpcerr	 err;
	json_error_t	 jerr;
	json_t		*p, *res;
	size_t		 i;

	for (i = 0; i < nitems(bad); i++) {
		p = json_loads(bad[i], 0, &jerr);
		ck_assert_ptr_nonnull(p);
		memset(&err, 0, sizeof err);
		ck_assert_msg(schedule_add(p, getuid(), 0, &res, &err) == -1,
		    "accepted %s", bad[i]);
		ck_assert_int_eq(err.code, RPC_INVALID_PARAMS);
		json_decref(p);
	}
	p = json_pack("{s:s}", "id", "sched-999");
	ck_assert_int_eq(schedule_get(p, getuid(), 0, &res, &err), -1);
	ck_assert_int_eq(err.code, RPC_UNKNOWN_JOB);
	json_decref(p);
}
END_TEST

/* Within a priority, users take turns: a flood does not starve others. */
START_TEST(test_fair_between_users)
{
	struct rpcerr	 err;
	json_t		*p;
	int		 i;
	static const uid_t want[] = { 1000, 2000, 3000, 1000, 2000, 1000,
	    1000, 1000 };

	p = json_pack("{s:s}", "type", "t_io");
	for (i = 0; i < 100; i++)
		ck_assert_ptr_nonnull(sched_submit(p, 1000, &err));
	for (i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(sched_submit(p, 2000, &err));
	ck_assert_ptr_nonnull(sched_submit(p, 3000, &err));
	json_decref(p);
	fake_capacity = 1;
	sched_kick(CLASS_IO);
	for (i = 0; i < (int)nitems(want); i++) {
		ck_assert_int_eq(fake_nstarted, i + 1);
		ck_assert_int_eq(fake_started[i]->uid, want[i]);
		fake_complete(fake_started[i]);
	}
	/* Priority still comes first. */
	p = json_pack("{s:s, s:i}", "type", "t_io", "priority", 9);
	ck_assert_ptr_nonnull(sched_submit(p, 4000, &err));
	json_decref(p);
	fake_complete(fake_started[i]);
	ck_assert_int_eq(fake_started[i + 1]->uid, 4000);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("sched");
	TCase	*tc = tcase_create("sched");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_priority_order);
	tcase_add_test(tc, test_class_override);
	tcase_add_test(tc, test_cancel_queued);
	tcase_add_test(tc, test_run_timeout);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_many_jobs);
	tcase_add_test(tc, test_fair_between_users);
	tcase_add_test(tc, test_schedule_cadence_and_ring);
	tcase_add_test(tc, test_schedule_no_overlap);
	tcase_add_test(tc, test_schedule_flapping);
	tcase_add_test(tc, test_schedule_bad_params);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
