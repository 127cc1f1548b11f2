// Command loadgen is a closed-loop load generator for MCP tools/call over
// Streamable HTTP: N clients, one goroutine each, each sending a call as
// soon as its previous answer has arrived and been checked. It prints the
// p50/p90/p99/max latency, the calls per second and the errors.
//
//	go run ./bench/loadgen -url http://127.0.0.1:8080/mcp -tool hello.greet \
//	    -args '{"name":"Ada"}' -expect 'Hello, Ada!' -clients 8 -duration 5s
//
// It speaks to stateless servers (no initialize, no session) and, unless
// -allow-remote is given, only to loopback addresses.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wardenmcp/warden/bench/internal/load"
)

func main() {
	var (
		c           load.Config
		args        string
		asJSON      bool
		allowRemote bool
	)
	flag.StringVar(&c.URL, "url", "http://127.0.0.1:8080/mcp", "MCP endpoint")
	flag.StringVar(&c.Tool, "tool", "hello.greet", "tool to call")
	flag.StringVar(&args, "args", `{"name":"Ada"}`, "tool arguments (a JSON object)")
	flag.IntVar(&c.Clients, "clients", 1, "concurrent closed-loop clients (one goroutine and one keep-alive connection each)")
	flag.DurationVar(&c.Duration, "duration", 5*time.Second, "measured duration")
	flag.DurationVar(&c.Warmup, "warmup", time.Second, "warm-up before measuring (not counted)")
	flag.Int64Var(&c.MaxCalls, "n", 0, "stop the measured phase after this many calls (0: no limit)")
	flag.DurationVar(&c.Timeout, "timeout", 10*time.Second, "timeout of each call")
	flag.StringVar(&c.ProtocolVersion, "protocol-version", load.DefaultProtocolVersion, "Mcp-Protocol-Version to send")
	flag.StringVar(&c.Expect, "expect", "", "substring every answer (the JSON-RPC response) must contain; any other answer is an error")
	flag.BoolVar(&asJSON, "json", false, "print the result as JSON")
	flag.BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback URL")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: loadgen [flags]\n\nClosed-loop load generator for MCP tools/call over Streamable HTTP.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	c.Args = json.RawMessage(args)
	if !json.Valid(c.Args) {
		fmt.Fprintf(os.Stderr, "loadgen: -args is not JSON: %s\n", args)
		os.Exit(2)
	}
	if !allowRemote {
		if err := load.CheckLoopback(c.URL); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: %v; pass -allow-remote to load a server elsewhere\n", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := load.Run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(r)
	} else {
		fmt.Print(r.Text())
	}
	if r.Errors > 0 || r.WarmupErrors > 0 {
		os.Exit(1)
	}
}
