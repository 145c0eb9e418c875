/*
 * jobd: start-up, signals, reload and drain.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "jobd.h"

#define MAIN_TICK_MS	50

static const char *main_config_path = JOBD_DEFAULT_CONFIG;
static int	 main_config_given;
static char	**main_overrides;	/* -o, reapplied on reload */
static int	 main_noverrides;
static const char *main_socket_override;
static int	 main_debug;
static int	 main_activated;	/* listening socket from systemd */
static struct config **main_retired;	/* old configs, freed at exit */
static int	 main_nretired;
static struct event *main_drain_ev;
static uint64_t	 main_drain_deadline;
static int	 main_drain_cancelled;
static struct event *main_watchdog_ev;

/*
 * The binary workers are started from: our own, by path. /proc/self/exe
 * itself would do, but tools that run us (valgrind) show the path to us
 * and not to themselves. A binary replaced since start keeps the magic
 * link: its old inode is the one that speaks our worker protocol.
 */
static const char *
main_self_exe(void)
{
	static char	 path[PATH_MAX];
	ssize_t		 n;

	n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0 || (size_t)n >= sizeof path - 1)
		return "/proc/self/exe";
	path[n] = '\0';
	if (n > 10 && strcmp(path + n - 10, " (deleted)") == 0)
		return "/proc/self/exe";
	return path;
}

/*
 * Every client and every transfer is a descriptor: raise the soft limit
 * to the hard one (systemd's LimitNOFILE= sets both).
 */
static void
main_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("%s: setrlimit", __func__);
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: jobd [-dnV] [-c file] [-s socket] "
	    "[-o section.key=value]...\n");
	exit(1);
}

/* Build a configuration from the file and the command line. */
static struct config *
main_config(char **errp)
{
	struct config	*c;
	char		*msg;
	int		 i;

	c = xcalloc(1, sizeof *c);
	config_defaults(c);
	if (config_load(c, main_config_path, main_config_given, errp) == -1)
		goto fail;
	for (i = 0; i < main_noverrides; i++) {
		if (config_set(c, main_overrides[i], errp) == -1)
			goto fail;
	}
	if (main_socket_override != NULL) {
		xasprintf(&msg, "daemon.socket=%s", main_socket_override);
		i = config_set(c, msg, errp);
		free(msg);
		if (i == -1)
			goto fail;
	}
	if (main_debug)
		c->log_level = LOG_LEVEL_DEBUG;
	return c;

fail:
	config_free(c);
	free(c);
	return NULL;
}

/* Re-read the configuration; the old one stays if the new one is bad. */
static int
main_do_reload(struct rpcerr *err)
{
	struct config	*c;
	char		*msg = NULL;

	notify_reloading();
	log_info("reloading configuration from %s", main_config_path);
	if ((c = main_config(&msg)) == NULL) {
		log_warnx("reload failed, keeping the old configuration: %s",
		    msg);
		if (err != NULL)
			rpcerr_set(err, RPC_INVALID_PARAMS, "config", "%s", msg);
		free(msg);
		notify_ready();
		return -1;
	}
	if (strcmp(c->socket, cfg->socket) != 0)
		log_warnx("daemon.socket changed: takes effect on restart");
	if (c->io_threads != cfg->io_threads)
		log_warnx("io.threads changed: takes effect on restart");
	/* Keep the old one alive: engines may still point into it. */
	main_retired = xreallocarray(main_retired, main_nretired + 1,
	    sizeof *main_retired);
	main_retired[main_nretired++] = cfg;
	cfg = c;
	log_setlevel(cfg->log_level);
	server_config();
	if (cpu_resize(config_cpu_workers(cfg)) == -1)
		log_warnx("reload: resizing the CPU pool failed");
	sched_kick(CLASS_IO);
	sched_kick(CLASS_CPU);
	notify_ready();
	notify_status("configuration reloaded");
	return 0;
}

/* Drain: wait for running jobs, then for answers to be written. */
static void
main_drain_cb(evutil_socket_t fd, short events, void *arg)
{
	struct job	*job, *next;
	uint64_t	 now = now_mono_us();
	struct timeval	 tv = { 0, MAIN_TICK_MS * 1000 };

	if (job_count(JOB_RUNNING) > 0 && now >= main_drain_deadline &&
	    !main_drain_cancelled) {
		log_warnx("drain timeout: cancelling %llu running jobs",
		    (unsigned long long)job_count(JOB_RUNNING));
		main_drain_cancelled = 1;
		for (job = job_first(); job != NULL; job = next) {
			next = job_next(job);
			if (job->state == JOB_RUNNING)
				sched_cancel(job, JOB_CANCELLED);
		}
	}
	if (job_count(JOB_RUNNING) == 0 && (server_output_pending() == 0 ||
	    now >= main_drain_deadline + 2000000)) {
		event_base_loopbreak(main_base);
		return;
	}
	evtimer_add(main_drain_ev, &tv);
}

/* Stop taking work; cancel what has not started; let the rest finish. */
static void
main_drain(void)
{
	struct job	*job, *next;
	struct timeval	 tv = { 0, 0 };

	log_info("shutting down: draining %llu running jobs (up to %d s)",
	    (unsigned long long)job_count(JOB_RUNNING), cfg->drain_timeout_s);
	notify_stopping();
	sched_draining = 1;
	if (!main_activated)
		server_close();
	for (job = job_first(); job != NULL; job = next) {
		next = job_next(job);
		if (job->state == JOB_QUEUED)
			sched_cancel(job, JOB_CANCELLED);
	}
	main_drain_deadline = now_mono_us() +
	    (uint64_t)cfg->drain_timeout_s * 1000000;
	main_drain_ev = evtimer_new(main_base, main_drain_cb, NULL);
	evtimer_add(main_drain_ev, &tv);
}

static void
main_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	switch (sig) {
	case SIGHUP:
		main_do_reload(NULL);
		break;
	case SIGTERM:
	case SIGINT:
		if (sched_draining) {
			log_warnx("second signal: stopping now");
			event_base_loopbreak(main_base);
			break;
		}
		main_drain();
		break;
	}
}

static void
main_watchdog_cb(evutil_socket_t fd, short events, void *arg)
{
	notify_watchdog();
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct event	*sigs[4];
	int		 sigv[] = { SIGTERM, SIGINT, SIGHUP };
	char		*err = NULL;
	int		 ch, check = 0, fd, i;
	uint64_t	 wd_usec;
	struct timeval	 tv;

	if (argc >= 3 && strcmp(argv[1], JOBD_WORKER_ARG) == 0)
		return worker_main(atoi(argv[2]));

	while ((ch = getopt_long(argc, argv, "c:dhno:s:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			main_config_path = optarg;
			main_config_given = 1;
			break;
		case 'd':
			main_debug = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'o':
			main_overrides = xreallocarray(main_overrides,
			    main_noverrides + 1, sizeof *main_overrides);
			main_overrides[main_noverrides++] = optarg;
			break;
		case 's':
			main_socket_override = optarg;
			break;
		case 'V':
			printf("jobd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init("jobd", main_debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if ((cfg = main_config(&err)) == NULL) {
		fprintf(stderr, "jobd: %s\n", err);
		free(err);
		return 1;
	}
	if (check) {
		printf("jobd: configuration OK\n");
		if (main_debug)
			config_dump(cfg, stdout);
		config_free(cfg);
		free(cfg);
		return 0;
	}
	log_setlevel(cfg->log_level);

	signal(SIGPIPE, SIG_IGN);
	main_raise_nofile();
	if (evthread_use_pthreads() == -1)
		fatalx("evthread_use_pthreads failed");
	if ((main_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	main_start_mono = now_mono_us();
	main_reload = main_do_reload;

	job_init(main_base);
	sched_init();
	rpc_init(main_base);
	/*
	 * Listen before the engines start: clients may queue work at once,
	 * and the workers do not inherit systemd's LISTEN_* variables.
	 */
	server_config();
	if ((fd = notify_listen_fd()) != -1) {
		main_activated = 1;
		if (server_listen_fd(main_base, fd) == -1)
			fatalx("cannot listen on the socket-activated fd");
		log_info("listening on the socket passed by systemd");
	} else {
		if (server_listen(main_base, cfg->socket, cfg->socket_mode,
		    cfg->socket_group) == -1)
			fatalx("cannot listen on %s", cfg->socket);
		log_info("listening on %s", cfg->socket);
	}

	if (cpu_init(main_base, main_self_exe()) == -1)
		fatalx("cannot start the CPU worker pool");
	if (io_init(main_base) == -1)
		fatalx("cannot start the I/O engine");

	for (i = 0; i < (int)nitems(sigv); i++) {
		sigs[i] = evsignal_new(main_base, sigv[i], main_signal_cb, NULL);
		evsignal_add(sigs[i], NULL);
	}
	if (notify_watchdog_usec(&wd_usec)) {
		wd_usec /= 2;
		tv.tv_sec = wd_usec / 1000000;
		tv.tv_usec = wd_usec % 1000000;
		main_watchdog_ev = event_new(main_base, -1, EV_PERSIST,
		    main_watchdog_cb, NULL);
		event_add(main_watchdog_ev, &tv);
	}
	notify_ready();
	notify_status("ready: %d CPU workers, %d I/O threads",
	    config_cpu_workers(cfg), cfg->io_threads);

	event_base_dispatch(main_base);

	log_info("exiting");
	server_shutdown();
	schedule_shutdown();
	map_shutdown();
	io_shutdown();
	cpu_shutdown();
	sched_shutdown();
	job_shutdown();
	for (i = 0; i < (int)nitems(sigv); i++)
		event_free(sigs[i]);
	if (main_drain_ev != NULL)
		event_free(main_drain_ev);
	if (main_watchdog_ev != NULL)
		event_free(main_watchdog_ev);
	event_base_free(main_base);
	for (i = 0; i < main_nretired; i++) {
		config_free(main_retired[i]);
		free(main_retired[i]);
	}
	free(main_retired);
	config_free(cfg);
	free(cfg);
	free(main_overrides);
	return 0;
}
