// Command fluxact-sources serves the sources that the Flux controllers fetch
// in the project's tests, on one loopback HTTP listener, with no internet:
//
//	/git/<name>.git   Git smart HTTP, fetch and push; a repository is created by its first push
//	/helm/            a Helm repository: index.yaml and chart archives; PUT <name>-<version>.tgz publishes
//	/v2/              an OCI registry (distribution API, in memory)
//	/healthz          200 ok
//
// Git repositories and charts are kept under --root; OCI artifacts last as
// long as the process. Each request is logged as one line on stderr; SIGTERM
// or SIGINT shut it down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "fluxact-sources: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	// A FlagSet of its own: net/http/httptest (used by gittestserver) adds a
	// flag to the default one.
	flags := flag.NewFlagSet("fluxact-sources", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	root := flags.String("root", "", "directory for the Git repositories (git/) and the Helm repository (helm/); required")
	urlFile := flags.String("url-file", "", "if set, the server's base URL (http://host:port) is written to this file once it listens")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *root == "" {
		return errors.New("--root is required")
	}
	rootDir, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(rootDir, 0o755); err != nil {
		return err
	}
	// gitkit and net/http log through the standard logger: errors only, request lines are ours.
	log.SetFlags(0)
	log.SetOutput(dropRequestLines{os.Stderr})

	git, err := startGit(filepath.Join(rootDir, "git"))
	if err != nil {
		return fmt.Errorf("git: %w", err)
	}
	defer git.stop()
	helm, err := newHelmRepository(filepath.Join(rootDir, "helm"))
	if err != nil {
		return fmt.Errorf("helm: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/git/", git)
	mux.Handle("/helm/", http.StripPrefix("/helm", helm))
	mux.Handle("/v2/", registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + listener.Addr().String()
	if *urlFile != "" {
		if err := writeFileAtomic(*urlFile, []byte(url+"\n")); err != nil {
			listener.Close()
			return err
		}
	}
	// stdout carries only the URL, for whoever started the process.
	fmt.Println(url)
	fmt.Fprintf(os.Stderr, "fluxact-sources: serving %s on %s\n", rootDir, url)

	server := &http.Server{Handler: accessLog(mux), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(os.Stderr, "fluxact-sources: shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return server.Shutdown(shutdown)
}

// writeFileAtomic writes a file through a temporary one in the same
// directory, so that a reader never sees it half written.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
