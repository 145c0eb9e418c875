/*
 * Test harness: run the real jobd on a temporary socket and talk to it.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <sys/types.h>

#include <check.h>
#include <jansson.h>

#include "jobd.h"

struct harness;

/*
 * Start $JOBD_BIN in a fresh temporary directory with an empty config file,
 * its socket there, and extra arguments (NULL-terminated, e.g. "-o",
 * "cpu.workers=1", NULL). Waits until it accepts connections. With
 * $JOBD_TEST_WRAPPER set (e.g. "valgrind --error-exitcode=99"), the daemon
 * runs under it.
 */
struct harness	*harness_start(const char *const *);
/* The same with this text as its config file (harness_dir()/jobd.conf). */
struct harness	*harness_start_conf(const char *, const char *const *);
/* Stop with SIGTERM, wait, remove the directory; returns the exit status
 * as from waitpid. */
int		 harness_stop(struct harness *);
/* SIGKILL the daemon (it leaves its socket file), then start it again in
 * the same directory on the same socket. */
void		 harness_crash(struct harness *);
void		 harness_restart(struct harness *, const char *const *);
/* The daemon is already reaped: just remove the directory. */
void		 harness_forget(struct harness *);
pid_t		 harness_pid(const struct harness *);
const char	*harness_socket(const struct harness *);
const char	*harness_dir(const struct harness *);
/* A new connection (the caller closes it). */
struct client	*harness_client(struct harness *);
/* Call on the harness's own connection; returns the whole response. */
json_t		*harness_call(struct harness *, const char *, json_t *);
/* Submit params {type,args,...} with wait:true and return the record. */
json_t		*harness_run(struct harness *, const char *, json_t *);

/* Assert a response is a success / an error; borrowed result, the code. */
json_t		*harness_ok(json_t *);
int		 harness_err(json_t *);
/* Write a file in the harness directory; returns its path (static buf). */
const char	*harness_file(struct harness *, const char *, const void *,
		     size_t);
/* Run a shell command, return its stdout (malloc'ed) and exit status. */
char		*harness_sh(const char *, int *);
/* Poll until job id reaches state (any end state if NULL). */
json_t		*harness_await(struct harness *, const char *, const char *);

#define TEST_TIMEOUT_MS	60000

#endif

/*
 * In-process fixture for unit tests of server/rpc/sched/job: the real
 * modules on a private event base, with engines the test provides, on a
 * temporary socket. Requests are pumped through the loop by inproc_*.
 */
extern int	 harness_standalone;	/* set when not under Check */
struct event_base *inproc_start(const struct engine *, const struct engine *);
void		 inproc_stop(void);
struct client	*inproc_client(void);
/* Run the loop until nothing is pending (bounded). */
void		 inproc_pump(void);
/* Send a raw line (newline added) and return the next message. */
json_t		*inproc_line(struct client *, const char *);
/* Call a method and return the whole response. */
json_t		*inproc_call(struct client *, const char *, json_t *);

/*
 * A fake engine for unit tests: runs nothing, records what it was given.
 * fake_capacity is how many jobs it may hold; jobs it holds finish when the
 * test calls fake_complete().
 */
#define FAKE_MAX	4096
extern int	 fake_capacity;
extern struct job *fake_started[FAKE_MAX];	/* in start order */
extern int	 fake_nstarted;
extern int	 fake_running;
extern int	 fake_ncancels;
extern const struct engine fake_engine;
extern const struct jobtype fake_type_io;	/* "t_io": io only */
extern const struct jobtype fake_type_any;	/* "t_any": io, may run on cpu */
void		 fake_reset(void);
void		 fake_complete(struct job *);
void		 fake_complete_with(struct job *, json_t *);	/* stolen */
extern const struct jobtype fake_type_ping;	/* "ping": {"n"} */
