package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's runtime profiles on addr (HOOKFLOW_PPROF_ADDR), so the benchmark
// (`go run ./bench -profile …`) or an operator can profile a running hookflow. It is off
// unless addr is set, and it listens on its own address and mux rather than the API's, so
// profiles are never exposed where the API is: keep addr on loopback or a private network.
func startPprof(addr string) {
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Warn("pprof server stopped", "addr", addr, "error", err)
		}
	}()
	slog.Info("pprof listening", "addr", addr)
}
