//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// app is one run of the stand-in: its configuration and rules (reloaded on SIGHUP and when their files
// change), its outputs, the webserver, the watch.
type app struct {
	opts    options
	out     *outputs
	stderr  io.Writer
	proc    procFS
	taskDir string

	mu  sync.RWMutex
	cfg *config
	rs  *ruleset

	web     *http.Server
	webAddr string
}

func newApp(opts options, stdout, stderr io.Writer) *app {
	return &app{opts: opts, stderr: stderr, proc: procFS{root: "/proc"},
		taskDir: "/run/containerd/io.containerd.runtime.v2.task/k8s.io",
		out:     newOutputs(stdout, stderr, opts.unbuffered, newSyslogWriter("/dev/log"))}
}

func (a *app) rules() (*ruleset, *config) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.rs, a.cfg
}

// load reads the configuration, then the rules it (or -r) names.
func (a *app) load() (*config, *ruleset, error) {
	cfg, err := loadConfig(a.opts.configFile, a.opts.overrides)
	if err != nil {
		return nil, nil, err
	}
	if len(a.opts.rulesFiles) > 0 {
		cfg.rulesFiles = a.opts.rulesFiles // -r replaces rules_files
	}
	rs, err := loadRules(cfg.rulesFiles)
	if err != nil {
		return nil, nil, err
	}
	return cfg, rs, nil
}

// banner are the first lines of every start: what this program is.
func (a *app) banner(what string) {
	a.out.logf("This is ckslab's e2e stand-in for Falco, not Falco: %s", what)
	a.out.logf("It is built only by ckslab's e2e suite (e2e/falcostandin), for machines where Falco cannot run, and never installed in a lab a user gets.")
}

// loadedLines are the lines Falco 0.40.0 logs when it has read its configuration and rules
// (../shared/falco-real/foreground-stderr.txt), less those about the kernel driver it does not have.
func (a *app) loadedLines(cfg *config, rs *ruleset) {
	a.out.logf("Falco version: %s (%s)", versionFor(variant), machine())
	a.out.logf("Falco initialized with configuration files:")
	for _, f := range cfg.files {
		a.out.logf("   %s | schema validation: %s", f.path, validation(f.empty))
	}
	a.out.logf("System info: %s", systemInfo())
	a.out.logf("Loading rules from:")
	for _, f := range rs.files {
		a.out.logf("   %s | schema validation: %s", f.path, validation(f.empty))
	}
}

func validation(empty bool) string {
	if empty {
		return "none"
	}
	return "ok"
}

func machine() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

func systemInfo() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "Linux"
	}
	return fmt.Sprintf("%s version %s (%s)", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Version[:]))
}

// start logs a start and opens what the configuration asks for: the webserver, the event source.
func (a *app) start(cfg *config, rs *ruleset) error {
	a.banner("it implements only the lab's two rules (" + rulePackageManager + ", " + ruleWriteEtc + "), seen through fanotify and /proc, and prints alerts shaped like Falco 0.40.0's.")
	a.loadedLines(cfg, rs)
	if err := a.startWebserver(cfg); err != nil {
		return err
	}
	a.out.logf("Loaded event sources: syscall")
	a.out.logf("Enabled event sources: syscall")
	a.out.logf("Opening 'syscall' source with the stand-in's fanotify watch of the node's containers (no BPF probe).")
	return nil
}

func (a *app) startWebserver(cfg *config) error {
	addr := ""
	if cfg.webserver.enabled {
		addr = net.JoinHostPort(cfg.webserver.listenAddress, strconv.Itoa(cfg.webserver.listenPort))
	}
	if a.web != nil {
		a.web.Close()
		a.web = nil
	}
	a.webAddr = addr
	if addr == "" {
		return nil
	}
	threads := cfg.webserver.threadiness
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	a.out.logf("Starting health webserver with threadiness %d, listening on %s", threads, addr)
	mux := http.NewServeMux()
	mux.HandleFunc(cfg.webserver.healthz, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "ok"}`)
	})
	var ln net.Listener
	var err error
	for try := 0; try < 20; try++ { // the previous listener of a restart may take a moment to go
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("an error occurred while starting webserver: %w", err)
	}
	a.web = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go a.web.Serve(ln)
	return nil
}

func (a *app) run() int {
	cfg, rs, err := a.load()
	if err != nil {
		fmt.Fprintf(a.stderr, "Error: %v\n", err)
		return 1
	}
	a.cfg, a.rs = cfg, rs
	a.out.setConfig(cfg)
	if a.opts.dryRun {
		a.banner("a dry run.")
		a.loadedLines(cfg, rs)
		return 0
	}
	if a.opts.pidfile != "" {
		_ = os.WriteFile(a.opts.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	}
	if err := a.start(cfg, rs); err != nil {
		a.out.logf("Error: %v", err)
		return 1
	}
	w, err := newWatcher(a.proc, a.out.logf)
	if err != nil {
		a.out.logf("Error: %v", err)
		return 1
	}
	defer w.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := newContainers(a.taskDir, func(c *container) error { return w.watch(c.rootfs) }, a.out.logf)
	containerOf := func(p *process) *container { return cs.lookup(p.cgroups) }
	en := newEngine(a.proc, containerOf, a.rules, func(r *rule, e *event) {
		_, cfg := a.rules()
		a.out.alert(r, alertLine(cfg, r, e))
	})
	w.onExec, w.onOpen, w.onWrite = en.onExec, en.onOpen, en.onWrite
	go func() {
		if err := w.run(); err != nil {
			a.out.logf("stand-in: %v", err)
		}
	}()
	go cs.run(ctx)
	go en.resolve(ctx)

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	var stop <-chan time.Time
	if a.opts.duration > 0 {
		stop = time.After(a.opts.duration)
	}
	changed := make(chan struct{}, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	if cfg.watchConfigFiles {
		go a.watchFiles(watchCtx, cfg, changed)
	}
loop:
	for {
		select {
		case s := <-signals:
			if s == syscall.SIGHUP {
				a.out.logf("SIGHUP received, restarting...")
				stopWatch()
				_, stopWatch = a.restart(ctx, false, changed)
				continue
			}
			a.out.logf("SIGINT received, exiting...")
			break loop
		case <-changed:
			stopWatch()
			_, stopWatch = a.restart(ctx, true, changed)
		case <-stop:
			break loop
		}
	}
	stopWatch()
	cancel()
	if a.web != nil {
		a.web.Close()
	}
	a.out.summary()
	a.out.syslog.close()
	return 0
}

// restart reloads the configuration and the rules and starts again, as Falco does on SIGHUP. After a
// file changed (watch_config_files), Falco first loads the new files as a dry run, and keeps running as
// it was if they do not load; then restarts as on SIGHUP.
func (a *app) restart(ctx context.Context, afterChange bool, changed chan struct{}) (context.Context, context.CancelFunc) {
	cfg, rs, err := a.load()
	old, _ := a.cfgAndRules()
	if afterChange {
		if err == nil {
			a.loadedLines(cfg, rs)
		}
		if err != nil {
			a.out.logf("Error: %v", err)
			return a.watchAgain(ctx, old, changed)
		}
		a.out.logf("SIGHUP received, restarting...")
	} else if err != nil {
		a.out.logf("Error: %v", err)
		return a.watchAgain(ctx, old, changed)
	}
	a.mu.Lock()
	a.cfg, a.rs = cfg, rs
	a.mu.Unlock()
	a.out.setConfig(cfg)
	if err := a.start(cfg, rs); err != nil {
		a.out.logf("Error: %v", err)
	}
	return a.watchAgain(ctx, cfg, changed)
}

func (a *app) cfgAndRules() (*config, *ruleset) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg, a.rs
}

func (a *app) watchAgain(ctx context.Context, cfg *config, changed chan struct{}) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(ctx)
	if cfg.watchConfigFiles {
		go a.watchFiles(wctx, cfg, changed)
	}
	return wctx, cancel
}

// watchFiles tells changed when the configuration file, a config.d file or a rules file changes
// (written, replaced, added to a rules folder or removed), once the changes have stopped for 250 ms.
func (a *app) watchFiles(ctx context.Context, cfg *config, changed chan<- struct{}) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		a.out.logf("stand-in: cannot watch the configuration files: %v", err)
		return
	}
	f := os.NewFile(uintptr(fd), "inotify")
	go func() { <-ctx.Done(); f.Close() }()
	files := map[string]bool{}
	folders := map[string]bool{}
	dirs := map[int]string{}
	add := func(dir string) {
		if wd, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_CREATE|unix.IN_DELETE); err == nil {
			dirs[wd] = dir
		}
	}
	paths := append([]string{a.opts.configFile}, cfg.rulesFiles...)
	for _, cf := range cfg.files {
		paths = append(paths, cf.path)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			folders[filepath.Clean(p)] = true
			add(p)
			continue
		}
		files[filepath.Clean(p)] = true
		add(filepath.Dir(p))
	}
	events := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64*1024)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrClosed) {
					return
				}
				continue
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				off += unix.SizeofInotifyEvent + int(ev.Len)
				dir := dirs[int(ev.Wd)]
				p := filepath.Join(dir, name)
				if files[p] || folders[dir] && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
					select {
					case events <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
		}
		quiet := time.NewTimer(250 * time.Millisecond)
	settle:
		for {
			select {
			case <-ctx.Done():
				quiet.Stop()
				return
			case <-events:
				quiet.Reset(250 * time.Millisecond)
			case <-quiet.C:
				break settle
			}
		}
		select {
		case changed <- struct{}{}:
		default:
		}
	}
}

// exitAtStart is the "exits" build: a Falco whose libraries stop at start-up on this kernel, as an
// unchanged Falco 0.40.0 does on this project's machine (libpman cannot raise RLIMIT_MEMLOCK).
func (a *app) exitAtStart() int {
	cfg, rs, err := a.load()
	if err != nil {
		fmt.Fprintf(a.stderr, "Error: %v\n", err)
		return 1
	}
	a.cfg, a.rs = cfg, rs
	a.out.setConfig(cfg)
	a.banner("this build stands in for a Falco that stops at start-up: it prints the lines such a Falco prints, and exits 1.")
	a.loadedLines(cfg, rs)
	a.out.logf("Loaded event sources: syscall")
	a.out.logf("Enabled event sources: syscall")
	a.out.logf("Opening 'syscall' source with modern BPF probe.")
	fmt.Fprintln(a.stderr, "libpman: unable to bump RLIMIT_MEMLOCK to RLIM_INFINITY (errno: 1 | message: Operation not permitted)")
	a.out.logf("An error occurred in an event source, forcing termination...")
	a.out.flush()
	fmt.Fprintln(a.stderr, "Error: Initialization issues during scap_init")
	a.out.syslog.close()
	return 1
}
