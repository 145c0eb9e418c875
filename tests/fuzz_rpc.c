/*
 * libFuzzer target: request lines through the real server, rpc, sched and
 * job modules (in process, with the tests' fake engine). Every input is
 * one or more lines on a client connection; whatever they are, the daemon
 * must answer or close cleanly, never crash, leak or misbehave.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "harness.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct client *fuzz_client;
static unsigned long fuzz_runs;

static void
fuzz_start(void)
{
	inproc_start(&fake_engine, &fake_engine);
	sched_register(&fake_type_io);
	sched_register(&fake_type_any);
	cfg->max_request_bytes = 64 * 1024;
	cfg->max_queued = 64;
	fake_reset();
	fake_capacity = 8;
	fuzz_client = inproc_client();
}

static void
fuzz_stop(void)
{
	int	 i;

	client_close(fuzz_client);
	for (i = 0; i < fake_nstarted; i++) {
		if (fake_started[i]->state == JOB_RUNNING)
			fake_complete(fake_started[i]);
	}
	inproc_stop();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	harness_standalone = 1;
	fuzz_start();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	json_t	*r;
	int	 i;

	/* A fresh daemon now and then, so state stays small. */
	if (++fuzz_runs % 500 == 0 || fake_nstarted > FAKE_MAX / 2) {
		fuzz_stop();
		fuzz_start();
	}
	if (client_send_raw(fuzz_client, data, len) == -1 ||
	    client_send_raw(fuzz_client, "\n", 1) == -1) {
		client_close(fuzz_client);
		fuzz_client = inproc_client();
		return 0;
	}
	inproc_pump();
	/* Finish what started, so waiters are answered too. */
	for (i = 0; i < fake_nstarted; i++) {
		if (fake_started[i]->state == JOB_RUNNING)
			fake_complete(fake_started[i]);
	}
	inproc_pump();
	while ((r = client_recv(fuzz_client, 0)) != NULL) {
		/* Every answer is a JSON-RPC object or batch array. */
		if (!json_is_object(r) && !json_is_array(r))
			abort();
		json_decref(r);
	}
	if (errno == EBADMSG)		/* the daemon wrote a bad line */
		abort();
	if (errno != ETIMEDOUT) {	/* closed (too large): reconnect */
		client_close(fuzz_client);
		fuzz_client = inproc_client();
	}
	return 0;
}
