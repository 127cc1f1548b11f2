package testutil

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RedisBinary is the redis-server executable StartRedis runs when the
// environment variable WARDEN_REDIS_BIN does not name another one and
// "redis-server" is not found on PATH. Debian's redis-server package
// installs it.
const RedisBinary = "/usr/bin/redis-server"

// RequireRedisEnv names the environment variable that turns a missing
// redis-server from a skipped test into a failed one. CI sets it, so the
// Redis tests cannot silently stop running there.
const RequireRedisEnv = "WARDEN_REQUIRE_REDIS"

// redisServer is one redis-server started by StartRedis, kept by address
// so that StopRedis and RestartRedis can find it.
type redisServer struct {
	bin  string
	port int
	dir  string
	out  *syncBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

var (
	redisMu      sync.Mutex
	redisServers = map[string]*redisServer{}
)

// StartRedis starts a throwaway redis-server on a free port of 127.0.0.1,
// without persistence (no RDB snapshots, no append-only file), waits until
// it answers PING and returns its address "127.0.0.1:PORT" and a function
// that kills it (the same as StopRedis; calling it twice is harmless). The
// server is also killed when the test ends.
//
// StartRedis skips the test when redis-server is missing, unless the
// environment variable WARDEN_REQUIRE_REDIS is set, in which case it fails
// it. WARDEN_REDIS_BIN names another binary.
func StartRedis(tb testing.TB) (addr string, stop func()) {
	tb.Helper()
	bin := redisBinary()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv(RequireRedisEnv) != "" {
			tb.Fatalf("%s is set but redis-server (%s) is missing: %v; install it with: apt-get install -y redis-server", RequireRedisEnv, bin, err)
		}
		tb.Skipf("no Redis to test against: %s is missing (apt-get install -y redis-server, or set WARDEN_REDIS_BIN); set %s to make this a failure", bin, RequireRedisEnv)
	}
	s := &redisServer{bin: bin, dir: tb.TempDir(), out: &syncBuffer{}}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		// Pick a free port. Another process may take it before
		// redis-server binds it; then try another.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("finding a free port: %v", err)
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		tb.Fatalf("starting %s: %v\n%s", bin, lastErr, s.out.String())
	}
	addr = s.addr()
	redisMu.Lock()
	redisServers[addr] = s
	redisMu.Unlock()
	tb.Cleanup(func() {
		s.kill()
		redisMu.Lock()
		delete(redisServers, addr)
		redisMu.Unlock()
		if tb.Failed() {
			tb.Logf("redis-server %s output:\n%s", addr, s.out.String())
		}
	})
	return addr, func() { StopRedis(tb, addr) }
}

// StopRedis kills (SIGKILL, as in a crash) the redis-server that StartRedis
// started at addr and waits until it has exited. Stopping a stopped server
// does nothing; RestartRedis starts it again on the same address.
func StopRedis(tb testing.TB, addr string) {
	tb.Helper()
	lookupRedis(tb, addr).kill()
}

// RestartRedis starts the redis-server that StartRedis started at addr
// again, on the same address and with an empty data set, after killing it
// if it still runs, and waits until it answers PING.
func RestartRedis(tb testing.TB, addr string) {
	tb.Helper()
	s := lookupRedis(tb, addr)
	s.kill()
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err = s.start(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("restarting redis-server on %s: %v\n%s", addr, err, s.out.String())
}

func lookupRedis(tb testing.TB, addr string) *redisServer {
	tb.Helper()
	redisMu.Lock()
	s := redisServers[addr]
	redisMu.Unlock()
	if s == nil {
		tb.Fatalf("no redis-server started by StartRedis at %s", addr)
	}
	return s
}

func redisBinary() string {
	if bin := os.Getenv("WARDEN_REDIS_BIN"); bin != "" {
		return bin
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	return RedisBinary
}

func (s *redisServer) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// start runs redis-server and waits until it answers PING, or fails.
func (s *redisServer) start() error {
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			s.kill()
			return fmt.Errorf("redis-server exited before answering on %s", s.addr())
		default:
		}
		err := pingRedis(s.addr())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server did not answer PING on %s within 20s: %v", s.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the running process, if any, and waits for it.
func (s *redisServer) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// pingRedis sends PING over RESP and expects +PONG.
func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
