package host

// MCP tasks: a tools/call that runs in the background, in its own fresh
// instance under the grant's task deadline, while the client polls for it.
// Task records live in a tasks.Store (this process, or Redis shared by the
// replicas), so any replica answers for any task; the replica running one
// holds a lease on it that it renews while the call runs.
//
// Both protocol eras are served, on the same records:
//
//   - 2025-11-25 (experimental core tasks): a tools/call with params.task
//     returns CreateTaskResult {task: {...}}; tasks/get, tasks/result
//     (blocks until the task ends), tasks/list and tasks/cancel.
//   - 2026-07-28 (the io.modelcontextprotocol/tasks extension): a client
//     that declares the extension in its per-request capabilities may get
//     {resultType: "task", taskId, ...} for a tool that supports tasks;
//     tasks/get (the result or error inline once it ended), tasks/update
//     and tasks/cancel (acknowledgements).
//
// mcp-go has task support of its own, in one process's memory; Warden
// answers every task request here and never lets one reach it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/wardenmcp/warden/host/internal/audit"
	"github.com/wardenmcp/warden/host/internal/tasks"
	"github.com/wardenmcp/warden/host/internal/telemetry"
	"github.com/wardenmcp/warden/plugins"
)

// TaskConfig configures MCP tasks. Zero fields take the defaults below.
type TaskConfig struct {
	// Backend is where task records live: "memory" (the default; this
	// process only, so with several replicas a task is known only to the
	// one that started it) or "redis" (shared: any replica answers for any
	// task).
	Backend        string
	RedisAddr      string
	RedisUsername  string
	RedisPassword  string
	RedisDB        int
	RedisKeyPrefix string
	// DefaultTTL is how long a task's record (and result) is kept after it
	// was created when the client asks for no TTL (1h). A task's TTL is
	// never shorter than its deadline plus a minute, so that its result can
	// be fetched.
	DefaultTTL time.Duration
	// MaxTTL caps the TTL a client may ask for (24h).
	MaxTTL time.Duration
	// MaxOpenPerSubject caps the tasks one subject may have working at
	// once (16); negative means no limit.
	MaxOpenPerSubject int
	// PollInterval is the polling interval suggested to clients, and the
	// interval at which tasks/result looks at the store (1s).
	PollInterval time.Duration
	// Replica names this process in task records (hostname-pid-random by
	// default); it must differ between replicas.
	Replica string
	// Lease is how long this replica's claim on a running task lasts
	// unless renewed (5s); RenewInterval is how often it is renewed (1s).
	// A replica that stops renewing (it died, or lost the store) has its
	// tasks failed by the next reader once the lease has run out.
	Lease         time.Duration
	RenewInterval time.Duration
}

// Defaults of TaskConfig.
const (
	defaultTaskTTL           = time.Hour
	defaultTaskMaxTTL        = 24 * time.Hour
	defaultTaskMaxOpen       = 16
	defaultTaskPollInterval  = time.Second
	defaultTaskLease         = 5 * time.Second
	defaultTaskRenewInterval = time.Second
)

// tasksExtension is the 2026-07-28 extension identifier.
const tasksExtension = "io.modelcontextprotocol/tasks"

// relatedTaskKey is the _meta key tying a tasks/result answer to its task.
const relatedTaskKey = "io.modelcontextprotocol/related-task"

// progressMetaKey is the _meta key of a tasks/get answer carrying the
// latest progress a working task reported (the protocol's progress
// notifications need a stream, and this endpoint is stateless).
const progressMetaKey = "dev.warden/progress"

// legacyTasksVersion is the one initialize-era revision with tasks.
const legacyTasksVersion = "2025-11-25"

// Why a running task's context was cancelled.
var (
	errTaskCancelled = errors.New("the task was cancelled")
	errTaskStopped   = errors.New("the task store no longer has the task working on this replica")
	errShuttingDown  = errors.New("the replica is shutting down")
	errStoreLost     = errors.New("the replica lost the task store")
)

// progressEvery is how often, at most, a running task's progress is
// written to the store: the latest report wins.
const progressEvery = 250 * time.Millisecond

// storeTimeout bounds store operations made outside any request.
const storeTimeout = 10 * time.Second

// taskRunner runs this replica's tasks and keeps their leases.
type taskRunner struct {
	s     *Server
	cfg   TaskConfig
	store tasks.Store

	mu       sync.Mutex
	running  map[string]*runningTask
	draining bool
	closing  chan struct{} // closed by drain
	wg       sync.WaitGroup

	loopOnce sync.Once // the renewal loop starts with the first task
	stopLoop chan struct{}
	loopDone chan struct{}
	closed   bool
}

// runningTask is one task running in this process.
type runningTask struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	module *plugins.Plugin
	// leaseUntil is when this replica's lease on the task runs out, as
	// far as it knows (r.mu).
	leaseUntil time.Time
}

func newTaskRunner(s *Server, c *TaskConfig) (*taskRunner, error) {
	cfg := TaskConfig{}
	if c != nil {
		cfg = *c
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.DefaultTTL, defaultTaskTTL)
	def(&cfg.MaxTTL, defaultTaskMaxTTL)
	def(&cfg.PollInterval, defaultTaskPollInterval)
	def(&cfg.Lease, defaultTaskLease)
	def(&cfg.RenewInterval, defaultTaskRenewInterval)
	if cfg.MaxTTL < cfg.DefaultTTL {
		return nil, fmt.Errorf("maxTTL %v is shorter than defaultTTL %v", cfg.MaxTTL, cfg.DefaultTTL)
	}
	if cfg.RenewInterval >= cfg.Lease {
		return nil, fmt.Errorf("the lease renewal interval %v must be shorter than the lease %v", cfg.RenewInterval, cfg.Lease)
	}
	switch {
	case cfg.MaxOpenPerSubject == 0:
		cfg.MaxOpenPerSubject = defaultTaskMaxOpen
	case cfg.MaxOpenPerSubject < 0:
		cfg.MaxOpenPerSubject = 0 // the store's "no limit"
	}
	if cfg.Replica == "" {
		cfg.Replica = defaultReplica()
	}
	r := &taskRunner{s: s, cfg: cfg, running: map[string]*runningTask{}, closing: make(chan struct{}),
		stopLoop: make(chan struct{}), loopDone: make(chan struct{})}
	switch cfg.Backend {
	case "", "memory":
		r.store = tasks.NewMemory(tasks.MemoryOptions{})
	case "redis":
		st, err := tasks.NewRedis(tasks.RedisOptions{Addr: cfg.RedisAddr, Username: cfg.RedisUsername, Password: cfg.RedisPassword,
			DB: cfg.RedisDB, KeyPrefix: cfg.RedisKeyPrefix})
		if err != nil {
			return nil, err
		}
		r.store = st
	default:
		return nil, fmt.Errorf("backend %q; want memory or redis", cfg.Backend)
	}
	return r, nil
}

// defaultReplica is hostname-pid-random: unique per process, and telling
// an operator where to look.
func defaultReplica() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "warden"
	}
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// loop renews the leases of the tasks running here.
func (r *taskRunner) loop() {
	defer close(r.loopDone)
	t := time.NewTicker(r.cfg.RenewInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stopLoop:
			return
		case <-t.C:
			r.renew()
		}
	}
}

func (r *taskRunner) renew() {
	r.mu.Lock()
	ids := make([]string, 0, len(r.running))
	for id := range r.running {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	now := time.Now()
	until := now.Add(r.cfg.Lease)
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Lease/2)
	defer cancel()
	stop, err := r.store.Renew(ctx, r.cfg.Replica, ids, until)
	if err != nil {
		// Once a lease has run out, readers fail the task anyway: stop
		// spending the plugin's time on it.
		var lost []string
		r.mu.Lock()
		for id, t := range r.running {
			if t.leaseUntil.Before(now) {
				lost = append(lost, id)
			}
		}
		r.mu.Unlock()
		r.s.opts.Logger.Warn("renewing task leases failed", slog.Int("tasks", len(ids)), slog.Int("stopped", len(lost)), slog.String("error", err.Error()))
		for _, id := range lost {
			r.stop(id, errStoreLost)
		}
		return
	}
	stopped := map[string]bool{}
	for _, id := range stop {
		stopped[id] = true
	}
	r.mu.Lock()
	for _, id := range ids {
		if t := r.running[id]; t != nil && !stopped[id] {
			t.leaseUntil = until
		}
	}
	r.mu.Unlock()
	for _, id := range stop {
		r.stop(id, errTaskStopped)
	}
}

// stop cancels task id if it runs here, saying why.
func (r *taskRunner) stop(id string, why error) {
	r.mu.Lock()
	t := r.running[id]
	r.mu.Unlock()
	if t != nil {
		t.cancel(why)
	}
}

// done returns a channel closed when task id, running here, ends; nil when
// it does not run here.
func (r *taskRunner) done(id string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.running[id]; t != nil {
		return t.done
	}
	return nil
}

// RunningTasks returns how many tasks run in this process on module m: a
// module replaced by a reload must stay open until they have ended.
func (s *Server) RunningTasks(m *plugins.Plugin) int {
	if s.tasks == nil {
		return 0
	}
	s.tasks.mu.Lock()
	defer s.tasks.mu.Unlock()
	n := 0
	for _, t := range s.tasks.running {
		if t.module == m {
			n++
		}
	}
	return n
}

// drain refuses new tasks, fails the running ones and waits (until ctx
// ends) for them to record it.
func (r *taskRunner) drain(ctx context.Context) {
	r.mu.Lock()
	if !r.draining {
		r.draining = true
		close(r.closing)
		for _, t := range r.running {
			t.cancel(errShuttingDown)
		}
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.s.opts.Logger.Warn("shutting down before every task recorded how it ended")
	}
}

// close drains (for 30s at most), stops renewing and closes the store.
func (r *taskRunner) close(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	r.drain(dctx)
	cancel()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	started := true
	r.loopOnce.Do(func() { started = false })
	if started {
		close(r.stopLoop)
		<-r.loopDone
	}
	return r.store.Close()
}

// ttl is the TTL of a new task: what the client asked for (milliseconds;
// nil for none), or the default, at most MaxTTL, and never shorter than
// the call's deadline plus a minute.
func (r *taskRunner) ttl(requestedMs *int64, deadline time.Duration) time.Duration {
	ttl := r.cfg.DefaultTTL
	if requestedMs != nil && *requestedMs > 0 {
		ttl = min(time.Duration(*requestedMs)*time.Millisecond, r.cfg.MaxTTL)
	}
	return max(ttl, deadline+time.Minute)
}

// start runs the task rec in the background; when the replica has begun
// shutting down it fails it instead.
func (r *taskRunner) start(rec tasks.Record, st *servedTool, args []byte, sb *plugins.Sandbox, obs *observation) {
	ctx, cancel := context.WithCancelCause(obs.ctx)
	t := &runningTask{cancel: cancel, done: make(chan struct{}), module: st.plugin.Module, leaseUntil: rec.LeaseUntil}
	r.mu.Lock()
	if r.draining {
		r.mu.Unlock()
		cancel(errShuttingDown)
		sb.Close()
		msg := fmt.Sprintf("replica %q shutting down: the call was not started; call the tool again", r.cfg.Replica)
		obs.end(nil, 0, false, fmt.Errorf("%w: %s", plugins.ErrCanceled, msg))
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer fcancel()
		r.store.Finish(fctx, rec.ID, tasks.Failed, msg, nil)
		return
	}
	r.running[rec.ID] = t
	r.wg.Add(1)
	r.mu.Unlock()
	r.loopOnce.Do(func() { go r.loop() })
	go r.run(ctx, t, rec, st, args, sb, obs)
}

func (r *taskRunner) run(ctx context.Context, t *runningTask, rec tasks.Record, st *servedTool, args []byte, sb *plugins.Sandbox, obs *observation) {
	defer r.wg.Done()
	defer close(t.done)
	defer func() {
		r.mu.Lock()
		delete(r.running, rec.ID)
		r.mu.Unlock()
		t.cancel(nil)
	}()
	defer sb.Close()
	ps := &progressSink{r: r, id: rec.ID, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	sb.Progress = ps.report
	go ps.loop(context.WithoutCancel(ctx))
	res, err := st.plugin.Module.Call(ctx, st.tool, args, sb)
	ps.stop()

	// The record first (clients are waiting for it), then the audit line.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	var ferr error
	finish := func(status tasks.Status, msg string, result json.RawMessage) {
		_, ferr = r.store.Finish(fctx, rec.ID, status, msg, result)
	}
	cause := context.Cause(ctx)
	switch {
	case err == nil:
		finish(tasks.Completed, "", callResultJSON(st, res.JSON))
		obs.end(&res.Stats, len(res.JSON), res.IsError, nil)
	case ctx.Err() != nil && (errors.Is(cause, errTaskCancelled) || errors.Is(cause, errTaskStopped)):
		// The record has ended already (cancelled, or failed by a reader
		// after this replica's lease ran out); there is nothing to write.
		obs.end(nil, 0, false, fmt.Errorf("%w: %v", plugins.ErrCanceled, cause))
	case ctx.Err() != nil && errors.Is(cause, errShuttingDown):
		msg := fmt.Sprintf("replica %q shutting down: the call was stopped before it ended; call the tool again", r.cfg.Replica)
		finish(tasks.Failed, msg, nil)
		obs.end(nil, 0, false, fmt.Errorf("%w: %s", plugins.ErrCanceled, msg))
	case ctx.Err() != nil && errors.Is(cause, errStoreLost):
		finish(tasks.Failed, fmt.Sprintf("replica %q lost the task store and stopped the call", r.cfg.Replica), nil)
		obs.end(nil, 0, false, fmt.Errorf("%w: %v", plugins.ErrCanceled, cause))
	default:
		// The plugin could not produce a result: timeout, trap, memory,
		// output limit, a denied capability, a full queue.
		finish(tasks.Failed, err.Error(), nil)
		obs.end(nil, 0, false, err)
	}
	if ferr != nil && !errors.Is(ferr, tasks.ErrTerminal) && !errors.Is(ferr, tasks.ErrNotFound) {
		r.s.opts.Logger.Error("recording how a task ended failed", slog.String("task", rec.ID), slog.String("tool", rec.Tool), slog.String("error", ferr.Error()))
	}
}

// callResultJSON is the stored CallToolResult of a call that returned out:
// as mcp-go would have answered it synchronously.
func callResultJSON(st *servedTool, out []byte) json.RawMessage {
	raw := json.RawMessage(out)
	res, err := mcp.ParseCallToolResult(&raw)
	if err != nil {
		res = mcp.NewToolResultError(fmt.Sprintf("%s: the plugin's result could not be read: %v", st.def.Name, err))
	}
	b, err := json.Marshal(res)
	if err != nil {
		b, _ = json.Marshal(mcp.NewToolResultError(fmt.Sprintf("%s: the plugin's result could not be encoded: %v", st.def.Name, err)))
	}
	return b
}

// progressSink writes a task's progress to the store from its own
// goroutine (the plugin reports on the goroutine running the call), at most
// every progressEvery, the latest report winning.
type progressSink struct {
	r    *taskRunner
	id   string
	wake chan struct{}
	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex
	latest *tasks.Progress
}

func (p *progressSink) report(pr plugins.Progress) {
	p.mu.Lock()
	p.latest = &tasks.Progress{Progress: pr.Progress, Total: pr.Total, Message: pr.Message}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *progressSink) loop(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-p.quit:
			return
		case <-p.wake:
		}
		p.mu.Lock()
		latest := p.latest
		p.latest = nil
		p.mu.Unlock()
		if latest != nil {
			rctx, cancel := context.WithTimeout(ctx, storeTimeout)
			err := p.r.store.Report(rctx, p.id, *latest)
			cancel()
			if errors.Is(err, tasks.ErrTerminal) || errors.Is(err, tasks.ErrNotFound) {
				// Cancelled (maybe on another replica): stop now rather
				// than at the next lease renewal.
				p.r.stop(p.id, errTaskStopped)
				return
			}
		}
		select {
		case <-p.quit:
			return
		case <-time.After(progressEvery):
		}
	}
}

func (p *progressSink) stop() {
	close(p.quit)
	<-p.done
}

// taskReq is what serveTasks reads of a request beyond the access layer's
// envelope.
type taskReq struct {
	Params json.RawMessage `json:"params"`
}

type taskParams struct {
	TaskID *string `json:"taskId"`
	Cursor *string `json:"cursor"`
}

// serveTasks answers the requests that involve tasks, which mcp-go must not
// see: tools/call of a tool that supports tasks, and tasks/*. It returns
// false for everything else, which goes on to mcp-go, possibly rewritten.
func (s *Server) serveTasks(w http.ResponseWriter, r *http.Request, c *catalog, in *inbound) bool {
	env := &in.env
	if env.JSONRPC != "2.0" || len(env.ID) == 0 || string(env.ID) == "null" {
		return false // not a request this layer can answer; mcp-go says why
	}
	switch env.Method {
	case "tools/call":
		return s.serveToolCall(w, r, c, in)
	case "tasks/get", "tasks/result", "tasks/list", "tasks/cancel", "tasks/update":
	default:
		return false
	}
	e := eraOf(r, env)
	if !e.modern && e.header != "" && !mcp.IsValidProtocolVersion(e.header) {
		return false // mcp-go refuses the version
	}
	rw := rpcWriter{w: w, id: env.ID, modern: e.modern}
	var req taskReq
	var p taskParams
	if err := json.Unmarshal(in.body, &req); err == nil && len(req.Params) > 0 && string(req.Params) != "null" {
		if err := json.Unmarshal(req.Params, &p); err != nil {
			rw.fail(mcp.INVALID_PARAMS, "invalid params for "+env.Method+": "+err.Error(), nil)
			return true
		}
	}
	if e.modern {
		if code, msg := checkModern(r, env, req.Params); code != 0 {
			rw.fail(code, msg, nil)
			return true
		}
		switch env.Method {
		case "tasks/result", "tasks/list":
			rw.fail(mcp.METHOD_NOT_FOUND, fmt.Sprintf("%s was removed in protocol version %s; the tasks extension (%s) has tasks/get, tasks/update and tasks/cancel", env.Method, e.meta, tasksExtension), nil)
			return true
		}
		if !declaresTasks(env) {
			rw.fail(mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, "Missing required client capability: "+env.Method+" is part of the "+tasksExtension+" extension; declare it in _meta "+mcp.MetaKeyClientCapabilities+".extensions", missingTasksData())
			return true
		}
	} else if env.Method == "tasks/update" {
		rw.fail(mcp.METHOD_NOT_FOUND, fmt.Sprintf("tasks/update is part of the %s extension of protocol version 2026-07-28", tasksExtension), nil)
		return true
	}
	if env.Method == "tasks/list" {
		s.tasksList(rw, r, p)
		return true
	}
	if p.TaskID == nil || *p.TaskID == "" {
		rw.fail(mcp.INVALID_PARAMS, env.Method+" needs params.taskId", nil)
		return true
	}
	id := *p.TaskID
	if e.modern {
		name, ok := mcp.DecodeHeaderValue(r.Header.Get(mcp.HeaderName))
		if !ok || name != id {
			rw.fail(mcp.HEADER_MISMATCH, fmt.Sprintf("the %s header must repeat params.taskId (%q) for %s", mcp.HeaderName, id, env.Method), nil)
			return true
		}
	}
	switch env.Method {
	case "tasks/get":
		s.tasksGet(rw, r, id)
	case "tasks/result":
		s.tasksResult(rw, r, id)
	case "tasks/cancel":
		s.tasksCancel(rw, r, id)
	case "tasks/update":
		s.tasksUpdate(rw, r, id)
	}
	return true
}

// serveToolCall handles tools/call of a tool that supports tasks: started
// as a task, refused, or passed on to mcp-go to run now (without its task
// field, so that mcp-go's own task machinery never starts).
func (s *Server) serveToolCall(w http.ResponseWriter, r *http.Request, c *catalog, in *inbound) bool {
	env := &in.env
	st, ok := c.tools[env.Params.Name]
	if !ok || !s.visible(r.Context(), st.scopes) {
		return false // mcp-go answers "not found"
	}
	hasTask := len(env.Params.Task) > 0 && string(env.Params.Task) != "null"
	e := eraOf(r, env)
	rw := rpcWriter{w: w, id: env.ID, modern: e.modern}
	if e.modern {
		// The server decides (SEP-2663): a tool that supports tasks runs
		// as one for every client that can take one. params.task is not
		// part of this era and is ignored.
		if st.tasks == plugins.TaskForbidden {
			return false
		}
		var req taskReq
		_ = json.Unmarshal(in.body, &req)
		if code, _ := checkModern(r, env, req.Params); code != 0 {
			return false // mcp-go refuses it with the same checks
		}
		if err := mcp.ValidateParamHeaders(r.Header.Get, &st.def, req.Params); err != nil {
			return false
		}
		if declaresTasks(env) {
			s.startTask(rw, r, st, env, nil)
			return true
		}
		if st.tasks == plugins.TaskRequired {
			rw.fail(mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, fmt.Sprintf("Missing required client capability: %s runs only as a task; declare the %s extension in _meta %s.extensions", st.def.Name, tasksExtension, mcp.MetaKeyClientCapabilities), missingTasksData())
			return true
		}
		if hasTask {
			stripTask(r, in.body)
		}
		return false
	}
	if e.header != "" && !mcp.IsValidProtocolVersion(e.header) {
		return false
	}
	// Only 2025-11-25 clients saw a tasks capability (initialize); for
	// the others a task field means nothing and is dropped.
	tasksOn := e.header == legacyTasksVersion && c.taskTools > 0
	switch {
	case !tasksOn:
		if hasTask && st.tasks != plugins.TaskForbidden {
			stripTask(r, in.body)
		}
		return false // mcp-go refuses a required tool without a task
	case hasTask && st.tasks == plugins.TaskForbidden:
		rw.fail(mcp.METHOD_NOT_FOUND, fmt.Sprintf("%s does not run as a task (its execution.taskSupport is forbidden); call it without params.task", st.def.Name), nil)
		return true
	case hasTask:
		var tp mcp.TaskParams
		if err := json.Unmarshal(env.Params.Task, &tp); err != nil {
			rw.fail(mcp.INVALID_PARAMS, "params.task: "+err.Error(), nil)
			return true
		}
		s.startTask(rw, r, st, env, tp.TTL)
		return true
	case st.tasks == plugins.TaskRequired:
		rw.fail(mcp.METHOD_NOT_FOUND, fmt.Sprintf("%s runs only as a task (its execution.taskSupport is required): add \"task\": {} to the params of tools/call", st.def.Name), nil)
		return true
	}
	return false
}

// startTask checks the arguments, creates the task record and starts the
// call in the background, then answers with the task.
func (s *Server) startTask(rw rpcWriter, r *http.Request, st *servedTool, env *rpcEnvelope, ttlMs *int64) {
	ctx := r.Context()
	tr := s.tasks
	p := st.plugin
	args := bytes.TrimSpace(env.Params.Arguments)
	if len(args) == 0 || string(args) == "null" {
		args = []byte("{}")
	}
	// The call outlives the request: its context keeps the request's
	// values (principal, trace, rate-limit decision) but not its end.
	obs := s.observe(context.WithoutCancel(ctx), telemetry.MethodToolsCall, st.def.Name, p, args)
	if err := st.args.check(args); err != nil {
		msg := fmt.Sprintf("invalid arguments for %s: %v", st.def.Name, err)
		obs.end(nil, 0, false, fmt.Errorf("%w: %s", plugins.ErrBadArguments, msg))
		if rw.modern {
			// A tool execution error (SEP-1303) now, rather than a task.
			b, _ := json.Marshal(mcp.NewToolResultError(msg))
			rw.result(rawObject(b))
			return
		}
		rw.fail(mcp.INVALID_PARAMS, msg, nil)
		return
	}
	sb, err := s.sandbox(obs.ctx, p)
	if err != nil {
		s.opts.Logger.ErrorContext(ctx, "sandbox setup failed", slog.String("plugin", p.Name), slog.String("error", err.Error()))
		obs.end(nil, 0, false, err)
		rw.fail(mcp.INTERNAL_ERROR, err.Error(), nil)
		return
	}
	// A task runs under the grant's task deadline, not the call deadline.
	sb.Task = true
	taskTimeout := time.Duration(s.opts.Runtime.EffectiveLimits(sb.Limits).TaskTimeout)
	now := time.Now()
	rec := tasks.Record{
		ID:           tasks.NewID(),
		Owner:        subjectOf(ctx),
		Tool:         st.def.Name,
		TTL:          tr.ttl(ttlMs, taskTimeout),
		PollInterval: tr.cfg.PollInterval,
		Replica:      tr.cfg.Replica,
		LeaseUntil:   now.Add(tr.cfg.Lease),
	}
	obs.rec.TaskID = rec.ID
	tr.mu.Lock()
	draining := tr.draining
	tr.mu.Unlock()
	if draining {
		sb.Close()
		obs.end(nil, 0, false, errShuttingDown)
		rw.fail(mcp.INTERNAL_ERROR, fmt.Sprintf("replica %q is shutting down and starts no tasks; try again", tr.cfg.Replica), nil)
		return
	}
	created, err := tr.store.Create(ctx, rec, tr.cfg.MaxOpenPerSubject)
	if err != nil {
		sb.Close()
		obs.end(nil, 0, false, err)
		if errors.Is(err, tasks.ErrTooManyOpen) {
			rw.fail(-32000, fmt.Sprintf("too many open tasks: at most %d may be working at once for one subject; wait for one to end, or cancel one with tasks/cancel", tr.cfg.MaxOpenPerSubject),
				map[string]any{"maxOpenTasks": tr.cfg.MaxOpenPerSubject})
			return
		}
		s.storeFailed(rw, ctx, err)
		return
	}
	tr.start(created, st, args, sb, obs)
	if rw.modern {
		out := modernTask(created)
		out["resultType"] = "task"
		rw.result(out)
		return
	}
	rw.result(map[string]any{"task": legacyTask(created)})
}

func (s *Server) tasksGet(rw rpcWriter, r *http.Request, id string) {
	rec, err := s.tasks.store.Get(r.Context(), subjectOf(r.Context()), id)
	if err != nil {
		s.taskLookupFailed(rw, r.Context(), err, "retrieve")
		return
	}
	if rw.modern {
		out := modernTask(rec)
		switch {
		case rec.Status == tasks.Completed && rec.Result != nil:
			out["result"] = json.RawMessage(rec.Result)
		case rec.Status == tasks.Failed:
			if rec.Result != nil {
				out["result"] = json.RawMessage(rec.Result)
			} else {
				out["error"] = map[string]any{"code": mcp.INTERNAL_ERROR, "message": rec.StatusMessage}
			}
		}
		if rec.Status == tasks.Working && rec.Progress != nil {
			out["_meta"] = map[string]any{progressMetaKey: rec.Progress}
		}
		rw.result(out)
		return
	}
	out := legacyTask(rec)
	if rec.Status == tasks.Working && rec.Progress != nil {
		out["_meta"] = map[string]any{progressMetaKey: rec.Progress}
	}
	rw.result(out)
}

// tasksResult (2025-11-25) waits until the task ends, then answers what
// the call would have answered.
func (s *Server) tasksResult(rw rpcWriter, r *http.Request, id string) {
	ctx := r.Context()
	owner := subjectOf(ctx)
	tr := s.tasks
	for {
		rec, err := tr.store.Get(ctx, owner, id)
		if err != nil {
			if ctx.Err() != nil {
				return // the client went away
			}
			s.taskLookupFailed(rw, ctx, err, "retrieve")
			return
		}
		if rec.Status.Terminal() {
			related := map[string]any{relatedTaskKey: map[string]string{"taskId": rec.ID}}
			if rec.Result != nil {
				out := rawObject(rec.Result)
				meta, _ := out["_meta"].(map[string]any)
				if meta == nil {
					meta = map[string]any{}
				}
				meta[relatedTaskKey] = related[relatedTaskKey]
				out["_meta"] = meta
				rw.result(out)
				return
			}
			msg := rec.StatusMessage
			if rec.Status == tasks.Cancelled {
				msg = "the task was cancelled"
				if rec.StatusMessage != "" {
					msg += ": " + rec.StatusMessage
				}
			}
			if msg == "" {
				msg = "the task " + string(rec.Status)
			}
			rw.fail(mcp.INTERNAL_ERROR, msg, map[string]any{"taskId": rec.ID, "status": rec.Status, "_meta": related})
			return
		}
		wait := rec.PollInterval
		if wait <= 0 || wait > tr.cfg.PollInterval {
			wait = tr.cfg.PollInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-tr.done(id):
		case <-tr.closing:
			t.Stop()
			rw.fail(mcp.INTERNAL_ERROR, fmt.Sprintf("replica %q is shutting down; send tasks/result again", tr.cfg.Replica), nil)
			return
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Server) tasksList(rw rpcWriter, r *http.Request, p taskParams) {
	if s.auth == nil {
		// Without authentication every caller is the same "anonymous":
		// a list would show each caller everyone's tasks (MCP 2025-11-25:
		// receivers that cannot identify requestors should not offer it).
		rw.fail(mcp.METHOD_NOT_FOUND, "tasks/list is offered only with authentication (auth.mode: jwt): without it every caller is \"anonymous\" and would see everyone's tasks", nil)
		return
	}
	cursor := ""
	if p.Cursor != nil {
		cursor = *p.Cursor
	}
	recs, next, err := s.tasks.store.List(r.Context(), subjectOf(r.Context()), cursor, 0)
	if err != nil {
		if errors.Is(err, tasks.ErrInvalidCursor) {
			rw.fail(mcp.INVALID_PARAMS, "invalid cursor: "+err.Error(), nil)
			return
		}
		s.storeFailed(rw, r.Context(), err)
		return
	}
	list := make([]map[string]any, 0, len(recs))
	for _, rec := range recs {
		list = append(list, legacyTask(rec))
	}
	out := map[string]any{"tasks": list}
	if next != "" {
		out["nextCursor"] = next
	}
	rw.result(out)
}

func (s *Server) tasksCancel(rw rpcWriter, r *http.Request, id string) {
	ctx := r.Context()
	rec, err := s.tasks.store.Cancel(ctx, subjectOf(ctx), id, "cancelled by the client")
	switch {
	case errors.Is(err, tasks.ErrTerminal):
		if rw.modern {
			rw.result(map[string]any{}) // cancellation is cooperative: acknowledged
			return
		}
		rw.fail(mcp.INVALID_PARAMS, fmt.Sprintf("Cannot cancel task: already in terminal status '%s'", rec.Status), nil)
		return
	case err != nil:
		s.taskLookupFailed(rw, ctx, err, "cancel")
		return
	}
	// Here, the call stops now; elsewhere, at its replica's next lease
	// renewal or progress report.
	s.tasks.stop(id, errTaskCancelled)
	s.audit(ctx, audit.Record{Subject: subjectOf(ctx), Method: "tasks/cancel", Tool: rec.Tool, TaskID: rec.ID, Outcome: telemetry.ResultOK})
	if rw.modern {
		rw.result(map[string]any{})
		return
	}
	rw.result(legacyTask(rec))
}

// tasksUpdate (2026-07-28) acknowledges input responses. No Warden task
// ever asks for input, so none is outstanding and all are ignored.
func (s *Server) tasksUpdate(rw rpcWriter, r *http.Request, id string) {
	if _, err := s.tasks.store.Get(r.Context(), subjectOf(r.Context()), id); err != nil {
		s.taskLookupFailed(rw, r.Context(), err, "update")
		return
	}
	rw.result(map[string]any{})
}

// taskLookupFailed answers a task that is not the caller's (not found,
// expired or another subject's: the three are not told apart) or a store
// failure.
func (s *Server) taskLookupFailed(rw rpcWriter, ctx context.Context, err error, verb string) {
	if errors.Is(err, tasks.ErrNotFound) {
		rw.fail(mcp.INVALID_PARAMS, "Failed to "+verb+" task: Task not found (no task with this id is yours: it never existed, it expired after its TTL, or another subject owns it)", nil)
		return
	}
	s.storeFailed(rw, ctx, err)
}

func (s *Server) storeFailed(rw rpcWriter, ctx context.Context, err error) {
	s.opts.Logger.ErrorContext(ctx, "task store failed", slog.String("error", err.Error()))
	msg := "the task store failed: " + err.Error()
	if errors.Is(err, tasks.ErrUnavailable) {
		msg = "the task store is unavailable; retry shortly (" + err.Error() + ")"
	}
	rw.fail(mcp.INTERNAL_ERROR, msg, nil)
}

// legacyTask is rec as a 2025-11-25 Task.
func legacyTask(rec tasks.Record) map[string]any { return taskObject(rec, "ttl", "pollInterval") }

// modernTask is rec as a 2026-07-28 Task (without resultType and the
// status-specific fields).
func modernTask(rec tasks.Record) map[string]any { return taskObject(rec, "ttlMs", "pollIntervalMs") }

// taskObject is rec as a Task object; the eras differ in the names of the
// two durations (milliseconds in both).
func taskObject(rec tasks.Record, ttlKey, pollKey string) map[string]any {
	out := map[string]any{
		"taskId":        rec.ID,
		"status":        string(rec.Status),
		"createdAt":     isoTime(rec.CreatedAt),
		"lastUpdatedAt": isoTime(rec.UpdatedAt),
		ttlKey:          rec.TTL.Milliseconds(),
		pollKey:         rec.PollInterval.Milliseconds(),
	}
	if m := statusMessage(rec); m != "" {
		out["statusMessage"] = m
	}
	return out
}

// statusMessage says why a task ended, or how far a working one got.
func statusMessage(rec tasks.Record) string {
	if rec.Status != tasks.Working || rec.Progress == nil {
		return rec.StatusMessage
	}
	p := rec.Progress
	n := strconv.FormatFloat(p.Progress, 'f', -1, 64)
	if p.Total > 0 {
		n += " of " + strconv.FormatFloat(p.Total, 'f', -1, 64)
	}
	if p.Message != "" {
		return p.Message + " (" + n + ")"
	}
	return "progress " + n
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// rawObject decodes a JSON object; a non-object becomes an empty one.
func rawObject(b []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		m = map[string]any{}
	}
	return m
}

func missingTasksData() map[string]any {
	return map[string]any{"requiredCapabilities": map[string]any{"extensions": map[string]any{tasksExtension: map[string]any{}}}}
}

// era is the protocol era of a request, as mcp-go decides it.
type era struct {
	modern bool
	header string // Mcp-Protocol-Version
	meta   string // _meta protocol version (2026-07-28)
}

func eraOf(r *http.Request, env *rpcEnvelope) era {
	e := era{header: r.Header.Get(mcp.HeaderProtocolVersion), meta: env.Params.Meta.ProtocolVersion()}
	e.modern = mcp.IsModernProtocol(e.meta) || mcp.IsModernProtocol(e.header)
	return e
}

// checkModern applies the transport checks of 2026-07-28 that mcp-go
// applies to the requests it serves; it returns the JSON-RPC error code
// and message of the first that fails, or 0.
func checkModern(r *http.Request, env *rpcEnvelope, params json.RawMessage) (int, string) {
	e := eraOf(r, env)
	switch {
	case r.Header.Get(mcp.HeaderLastEventID) != "":
		return mcp.HEADER_MISMATCH, "Last-Event-ID is not supported in protocol version 2026-07-28"
	case e.header == "":
		return mcp.HEADER_MISMATCH, mcp.HeaderProtocolVersion + " header is required for requests carrying " + mcp.MetaKeyProtocolVersion
	case e.meta == "":
		return mcp.INVALID_PARAMS, "missing or invalid _meta field " + mcp.MetaKeyProtocolVersion
	case e.header != e.meta:
		return mcp.HEADER_MISMATCH, fmt.Sprintf("%s header %s does not match request %s %s", mcp.HeaderProtocolVersion, e.header, mcp.MetaKeyProtocolVersion, e.meta)
	case !mcp.IsValidProtocolVersion(e.meta):
		return mcp.INVALID_PARAMS, "unsupported protocol version " + e.meta
	}
	if err := mcp.ValidateStandardHeaders(r.Header.Get, e.meta, mcp.MCPMethod(env.Method), params); err != nil {
		return mcp.HEADER_MISMATCH, err.Error()
	}
	return 0, ""
}

// declaresTasks reports whether a 2026-07-28 request declares the tasks
// extension in its per-request client capabilities.
func declaresTasks(env *rpcEnvelope) bool {
	caps := env.Params.Meta.ClientCapabilities()
	if caps == nil {
		return false
	}
	_, ok := caps.Extensions[tasksExtension]
	return ok
}

// stripTask removes params.task from the request body that goes on to
// mcp-go.
func stripTask(r *http.Request, body []byte) {
	var msg map[string]json.RawMessage
	if json.Unmarshal(body, &msg) != nil {
		return
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(msg["params"], &params) != nil {
		return
	}
	delete(params, "task")
	msg["params"], _ = json.Marshal(params)
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	r.Body = readCloser{bytes.NewReader(b)}
	r.ContentLength = int64(len(b))
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// rpcWriter answers one JSON-RPC request in its protocol era.
type rpcWriter struct {
	w      http.ResponseWriter
	id     json.RawMessage
	modern bool
}

// result writes a result object; in the modern era it gains resultType
// ("complete" unless set) and the server's identity in _meta.
func (rw rpcWriter) result(res map[string]any) {
	if rw.modern {
		if _, ok := res["resultType"]; !ok {
			res["resultType"] = "complete"
		}
		meta, _ := res["_meta"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
		}
		meta[mcp.MetaKeyServerInfo] = map[string]string{"name": "warden", "version": Version}
		res["_meta"] = meta
	}
	rw.w.Header().Set("Content-Type", "application/json")
	rw.w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(rw.w).Encode(map[string]any{"jsonrpc": "2.0", "id": rw.id, "result": res})
}

// fail writes a JSON-RPC error; in the modern era its HTTP status follows
// the error code, as mcp-go's are.
func (rw rpcWriter) fail(code int, msg string, data any) {
	status := http.StatusOK
	if rw.modern {
		switch code {
		case mcp.METHOD_NOT_FOUND:
			status = http.StatusNotFound
		case mcp.HEADER_MISMATCH, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, mcp.UNSUPPORTED_PROTOCOL_VERSION,
			mcp.INVALID_REQUEST, mcp.INVALID_PARAMS, mcp.PARSE_ERROR:
			status = http.StatusBadRequest
		}
	}
	writeRPCErrorStatus(rw.w, status, rw.id, code, msg, data)
}

// taskCapabilityHooks advertise tasks when catalog c has a tool that
// supports them: the tasks capability to 2025-11-25 clients (initialize;
// list only with authentication), the tasks extension to 2026-07-28
// clients (server/discover). Each era sees only its own form, as SEP-2663
// requires.
func (s *Server) taskCapabilityHooks(c *catalog) *server.Hooks {
	h := &server.Hooks{}
	h.AddAfterInitialize(func(_ context.Context, _ any, _ *mcp.InitializeRequest, res *mcp.InitializeResult) {
		if c.taskTools == 0 || res == nil || res.ProtocolVersion != legacyTasksVersion {
			return
		}
		tc := &mcp.TasksCapability{Cancel: &struct{}{}, Requests: &mcp.TaskRequestsCapability{}}
		tc.Requests.Tools = &struct {
			Call *struct{} `json:"call,omitempty"`
		}{Call: &struct{}{}}
		if s.auth != nil {
			tc.List = &struct{}{}
		}
		res.Capabilities.Tasks = tc
	})
	h.AddAfterDiscover(func(_ context.Context, _ any, _ *mcp.DiscoverRequest, res *mcp.DiscoverResult) {
		if c.taskTools == 0 || res == nil {
			return
		}
		ext := map[string]any{}
		for k, v := range res.Capabilities.Extensions {
			ext[k] = v
		}
		ext[tasksExtension] = map[string]any{}
		res.Capabilities.Extensions = ext
	})
	return h
}
