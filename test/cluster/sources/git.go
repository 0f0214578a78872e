package main

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"

	"github.com/fluxcd/pkg/gittestserver"
)

// gitPath is /git/<name>.git/<smart HTTP endpoint>: one level of names, so
// that every repository is the directory root/git/<name>.git.
var gitPath = regexp.MustCompile(`^/git(/([A-Za-z0-9][A-Za-z0-9._-]*\.git)/(info/refs|git-upload-pack|git-receive-pack))$`)

// gitServer serves /git/ through Flux's own test Git server (gittestserver,
// which runs gitkit and the git CLI), with repositories created on first push.
// gittestserver owns its HTTP listener (an httptest.Server on a free loopback
// port), so requests are proxied to it rather than served on a second
// address that clients would have to know.
type gitServer struct {
	server *gittestserver.GitServer
	proxy  *httputil.ReverseProxy
	dir    string
}

func startGit(dir string) (*gitServer, error) {
	// Every git command the server runs (init, upload-pack, receive-pack)
	// inherits this: new repositories' HEAD is main, so a clone checks it out.
	os.Setenv("GIT_CONFIG_COUNT", "1")
	os.Setenv("GIT_CONFIG_KEY_0", "init.defaultBranch")
	os.Setenv("GIT_CONFIG_VALUE_0", "main")

	server := gittestserver.NewGitServer(dir).AutoCreate()
	if err := server.StartHTTP(); err != nil {
		return nil, err
	}
	target, err := url.Parse(server.HTTPAddress())
	if err != nil {
		server.StopHTTP()
		return nil, err
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.URL.Path = gitPath.FindStringSubmatch(r.In.URL.Path)[1]
		r.Out.URL.RawPath = ""
	}}
	return &gitServer{server: server, proxy: proxy, dir: dir}, nil
}

func (g *gitServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := gitPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		http.Error(w, "not a Git smart HTTP path: want /git/<name>.git/info/refs, git-upload-pack or git-receive-pack", http.StatusNotFound)
		return
	}
	// gitkit would create a missing repository on any request; only a push
	// should, so that fetching a wrong name fails as it does elsewhere.
	push := m[3] == "git-receive-pack" || r.URL.Query().Get("service") == "git-receive-pack"
	if _, err := os.Stat(filepath.Join(g.dir, m[2])); err != nil && !push {
		http.Error(w, "repository not found", http.StatusNotFound)
		return
	}
	g.proxy.ServeHTTP(w, r)
}

func (g *gitServer) stop() { g.server.StopHTTP() }
