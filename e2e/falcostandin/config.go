//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// config is what the stand-in takes from falco.yaml: the keys the lab and the task touch, with Falco's
// defaults for missing ones.
type config struct {
	// files are the configuration files read, in order (falco.yaml, then config.d's).
	files []configFile

	rulesFiles        []string
	watchConfigFiles  bool
	timeFormatISO8601 bool
	minPriority       priority
	logStderr         bool
	logSyslog         bool
	stdoutOutput      bool
	syslogOutput      bool
	fileOutput        struct {
		enabled  bool
		filename string
	}
	// appendOutput is what Falco appends to every rule's output (append_output).
	appendOutput []appendEntry
	webserver    struct {
		enabled       bool
		listenAddress string
		listenPort    int
		healthz       string
		threadiness   int
	}
}

type configFile struct {
	path  string
	empty bool
}

// appendEntry is one item of append_output: extra text, or the container plugin's suggested fields.
type appendEntry struct {
	source, rule string
	tags         []string
	extraOutput  string
	suggested    bool
}

// suggestedFields are the fields Falco 0.41+ appends with `suggested_output: true` (falco-facts.md §3).
const suggestedFields = "container_id=%container.id container_name=%container.name container_image_repository=%container.image.repository container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name"

// loadConfig reads the configuration file, the files of its config_files, and applies -o overrides last,
// as Falco does.
func loadConfig(path string, overrides []string) (*config, error) {
	c := &config{}
	root, empty, err := readYAMLMap(path)
	if err != nil {
		return nil, err
	}
	c.files = append(c.files, configFile{path: path, empty: empty})
	for _, kv := range overrides { // -o config_files=... decides which files are read
		if strings.HasPrefix(kv, "config_files") {
			if err := setOverride(root, kv); err != nil {
				return nil, err
			}
		}
	}
	// config_files (default /etc/falco/config.d): files, or folders of *.yaml|*.yml loaded in name order.
	for _, entry := range stringList(lookup(root, "config_files"), []string{"/etc/falco/config.d"}) {
		for _, f := range expandDir(entry) {
			m, empty, err := readYAMLMap(f)
			if err != nil {
				return nil, err
			}
			c.files = append(c.files, configFile{path: f, empty: empty})
			merge(root, m)
		}
	}
	for _, kv := range overrides { // the command line wins over config.d
		if err := setOverride(root, kv); err != nil {
			return nil, err
		}
	}

	c.rulesFiles = stringList(lookup(root, "rules_files"), nil)
	if c.rulesFiles == nil {
		c.rulesFiles = stringList(lookup(root, "rules_file"), []string{"/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.local.yaml", "/etc/falco/rules.d"})
	}
	c.watchConfigFiles = boolAt(root, "watch_config_files", true)
	c.timeFormatISO8601 = boolAt(root, "time_format_iso_8601", false)
	p, ok := parsePriority(stringAt(root, "priority", "debug"))
	if !ok {
		return nil, fmt.Errorf("%s: priority %q is not a Falco priority", path, stringAt(root, "priority", ""))
	}
	c.minPriority = p
	c.logStderr = boolAt(root, "log_stderr", true)
	c.logSyslog = boolAt(root, "log_syslog", true)
	c.stdoutOutput = boolAt(root, "stdout_output.enabled", true)
	c.syslogOutput = boolAt(root, "syslog_output.enabled", true)
	c.fileOutput.enabled = boolAt(root, "file_output.enabled", false)
	c.fileOutput.filename = stringAt(root, "file_output.filename", "./events.txt")
	if items, ok := lookup(root, "append_output").([]any); ok {
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			e := appendEntry{}
			if match, ok := m["match"].(map[string]any); ok {
				e.source, _ = match["source"].(string)
				e.rule, _ = match["rule"].(string)
				e.tags = stringList(match["tags"], nil)
			}
			e.extraOutput, _ = m["extra_output"].(string)
			e.suggested, _ = m["suggested_output"].(bool)
			c.appendOutput = append(c.appendOutput, e)
		}
	}
	c.webserver.enabled = boolAt(root, "webserver.enabled", true)
	c.webserver.listenAddress = stringAt(root, "webserver.listen_address", "0.0.0.0")
	c.webserver.listenPort = intAt(root, "webserver.listen_port", 8765)
	c.webserver.healthz = stringAt(root, "webserver.k8s_healthz_endpoint", "/healthz")
	c.webserver.threadiness = intAt(root, "webserver.threadiness", 0)
	return c, nil
}

// readYAMLMap reads a YAML mapping; a file of comments only is an empty one.
func readYAMLMap(path string) (map[string]any, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("could not read the configuration file: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, false, fmt.Errorf("%s: not a YAML mapping: %w", path, err)
	}
	if m == nil {
		return map[string]any{}, true, nil
	}
	return m, false, nil
}

// expandDir returns a file as is, or a folder's *.yaml and *.yml files in name order; a missing entry
// gives nothing.
func expandDir(path string) []string {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if !fi.IsDir() {
		return []string{path}
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// merge copies src's keys into dst, merging mappings key by key; other values replace.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

var keyPart = regexp.MustCompile(`^([A-Za-z0-9_-]+)(?:\[(\d*)\])?$`)

// setOverride applies one -o key=value: a dot path of keys, where a key may end in [N] (an item of a
// list) or [] (appended to it); the value is read as YAML, so false is a boolean and 8765 a number.
func setOverride(root map[string]any, kv string) error {
	key, raw, _ := strings.Cut(kv, "=")
	var value any
	if err := yaml.Unmarshal([]byte(raw), &value); err != nil || raw == "" {
		value = raw
	}
	parts := strings.Split(key, ".")
	cur := root
	for i, part := range parts {
		m := keyPart.FindStringSubmatch(part)
		if m == nil {
			return fmt.Errorf("-o %s: %q is not a configuration key", kv, part)
		}
		name, index, hasIndex := m[1], m[2], strings.HasSuffix(part, "]")
		last := i == len(parts)-1
		if !hasIndex {
			if last {
				cur[name] = value
				return nil
			}
			next, ok := cur[name].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[name] = next
			}
			cur = next
			continue
		}
		list, _ := cur[name].([]any)
		n := len(list)
		if index != "" {
			n, _ = strconv.Atoi(index)
		}
		for len(list) <= n {
			list = append(list, nil)
		}
		if last {
			list[n] = value
			cur[name] = list
			return nil
		}
		next, ok := list[n].(map[string]any)
		if !ok {
			next = map[string]any{}
			list[n] = next
		}
		cur[name] = list
		cur = next
	}
	return nil
}

// lookup follows a dot path of mapping keys.
func lookup(root map[string]any, path string) any {
	var cur any = root
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func boolAt(root map[string]any, path string, def bool) bool {
	switch v := lookup(root, path).(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

func stringAt(root map[string]any, path, def string) string {
	switch v := lookup(root, path).(type) {
	case string:
		return v
	case nil:
		return def
	default:
		return fmt.Sprint(v)
	}
}

func intAt(root map[string]any, path string, def int) int {
	switch v := lookup(root, path).(type) {
	case int:
		return v
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// stringList reads a YAML list of strings (or one string).
func stringList(v any, def []string) []string {
	switch v := v.(type) {
	case []any:
		out := []string{}
		for _, it := range v {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{v}
	}
	return def
}
