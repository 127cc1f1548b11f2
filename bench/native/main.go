// Command native is the native baseline of Warden's benchmarks: a stateless
// mcp-go Streamable HTTP server with the same greet tool as examples/hello.
//
//	go run ./bench/native -listen 127.0.0.1:8082
//	go run ./bench/loadgen -url http://127.0.0.1:8082/mcp -tool greet -clients 8
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wardenmcp/warden/bench/internal/nativesrv"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8082", "address to listen on (port 0: any free port)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: native [-listen ADDR]\n\nServes the greet tool with mcp-go (stateless Streamable HTTP) at http://ADDR%s.\n\n", nativesrv.Endpoint)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "native:", err)
		os.Exit(1)
	}
	hs := &http.Server{Handler: nativesrv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening http://%s%s\n", ln.Addr(), nativesrv.Endpoint)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "native:", err)
		os.Exit(1)
	}
}
