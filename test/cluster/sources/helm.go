package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"
	"sigs.k8s.io/yaml"
)

// maxChartSize bounds an uploaded chart archive.
const maxChartSize = 64 << 20

// chartFile is the name of an archive in the repository: one path segment
// ending in .tgz.
var chartFile = regexp.MustCompile(`^/([A-Za-z0-9][A-Za-z0-9._+-]*\.tgz)$`)

// helmRepository is a static Helm repository in a directory: index.yaml and
// the chart archives it lists. A PUT of /<name>-<version>.tgz stores a chart
// and rewrites index.yaml from every archive in the directory, so the index
// always matches the files and clients need no path on the server's disk.
type helmRepository struct {
	dir   string
	files http.Handler
	mu    sync.Mutex // serialises publishing: store + rewrite index.yaml
}

func newHelmRepository(dir string) (*helmRepository, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	h := &helmRepository{dir: dir, files: http.FileServer(http.Dir(dir))}
	// Charts copied into the directory before the start are listed too.
	if err := h.writeIndex(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *helmRepository) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.files.ServeHTTP(w, r)
	case http.MethodPut:
		h.publish(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// publish stores the chart archive in the request body under the request's
// file name, which must be <name>-<version>.tgz of its Chart.yaml, and
// answers 201 with the chart's index entry (JSON).
func (h *helmRepository) publish(w http.ResponseWriter, r *http.Request) {
	m := chartFile.FindStringSubmatch(r.URL.Path)
	if m == nil {
		http.Error(w, "PUT /helm/<name>-<version>.tgz", http.StatusNotFound)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChartSize))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	meta, err := chartMetadata(data)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if want := fmt.Sprintf("%s-%s.tgz", meta["name"], meta["version"]); m[1] != want {
		http.Error(w, fmt.Sprintf("the chart's Chart.yaml says %s, not %s", want, m[1]), http.StatusBadRequest)
		return
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	file := filepath.Join(h.dir, m[1])
	if err := writeFileAtomic(file, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := h.writeIndex(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	info, err := os.Stat(file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(indexEntry(meta, m[1], data, info.ModTime()))
}

// writeIndex writes index.yaml (apiVersion v1) listing every chart archive
// in the directory, newest version first; an archive that is not a chart is
// logged and left out.
func (h *helmRepository) writeIndex() error {
	files, err := filepath.Glob(filepath.Join(h.dir, "*.tgz"))
	if err != nil {
		return err
	}
	entries := map[string][]map[string]any{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		info, err := os.Stat(file)
		if err != nil {
			return err
		}
		meta, err := chartMetadata(data)
		if err != nil {
			log.Printf("helm: %s left out of index.yaml: %v", filepath.Base(file), err)
			continue
		}
		name := meta["name"].(string)
		entries[name] = append(entries[name], indexEntry(meta, filepath.Base(file), data, info.ModTime()))
	}
	for _, versions := range entries {
		sort.Slice(versions, func(i, j int) bool {
			return semver.Compare("v"+versions[i]["version"].(string), "v"+versions[j]["version"].(string)) > 0
		})
	}
	index, err := yaml.Marshal(map[string]any{
		"apiVersion": "v1",
		"entries":    entries,
		"generated":  time.Now().UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(h.dir, "index.yaml"), index)
}

// indexEntry is a chart's entry in index.yaml: the fields of its Chart.yaml
// plus the archive's URL (relative to the repository), digest and time.
func indexEntry(meta map[string]any, file string, data []byte, created time.Time) map[string]any {
	entry := make(map[string]any, len(meta)+3)
	for k, v := range meta {
		entry[k] = v
	}
	sum := sha256.Sum256(data)
	entry["urls"] = []string{file}
	entry["digest"] = hex.EncodeToString(sum[:])
	entry["created"] = created.UTC().Format(time.RFC3339Nano)
	return entry
}

// chartMetadata reads <chart>/Chart.yaml from a chart archive; it must have
// a name and a version.
func chartMetadata(archive []byte) (map[string]any, error) {
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no <chart>/Chart.yaml in the archive")
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		dir, base, found := strings.Cut(hdr.Name, "/")
		if !found || dir == "" || base != "Chart.yaml" {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		var meta map[string]any
		if err := yaml.Unmarshal(data, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", hdr.Name, err)
		}
		for _, key := range []string{"name", "version"} {
			if s, ok := meta[key].(string); !ok || s == "" {
				return nil, fmt.Errorf("%s has no %s", hdr.Name, key)
			}
		}
		return meta, nil
	}
}
