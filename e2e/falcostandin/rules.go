//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The rules the stand-in implements: the two the lab adds to falco_rules.yaml
// (falco/files/ckslab-exam-rules.yaml). Every other rule is loaded, and never fires.
const (
	rulePackageManager = "Launch Package Management Process in Container"
	ruleWriteEtc       = "Write below etc"
)

// priority is a rule's priority, Emergency (0) to Debug (7), as syslog's severities.
type priority int

var priorityNames = [...]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

func (p priority) String() string { return priorityNames[p] }

func parsePriority(s string) (priority, bool) {
	switch strings.ToLower(s) {
	case "info":
		return 6, true
	case "warn":
		return 4, true
	}
	for i, n := range priorityNames {
		if strings.EqualFold(n, s) {
			return priority(i), true
		}
	}
	return 0, false
}

// rule is what the stand-in takes from a rule: its output, priority, whether it is enabled, its tags.
type rule struct {
	name     string
	output   string
	priority priority
	enabled  bool
	tags     []string
	source   string
}

// ruleset is the rules files, loaded in order: a later definition of a rule replaces the earlier, an
// `override:` replaces or appends to the keys it names, `enabled:` alone switches a rule on or off.
type ruleset struct {
	rules map[string]*rule
	lists map[string][]string
	files []rulesFile
}

type rulesFile struct {
	path  string
	empty bool
}

// loadRules reads rules files and folders (their *.yaml and *.yml files in name order).
func loadRules(paths []string) (*ruleset, error) {
	rs := &ruleset{rules: map[string]*rule{}, lists: map[string][]string{}}
	for _, p := range paths {
		for _, f := range expandDir(p) {
			if err := rs.loadFile(f); err != nil {
				return nil, err
			}
		}
	}
	return rs, nil
}

func (rs *ruleset) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("could not read rules file %s: %w", path, err)
	}
	var items []map[string]any
	if err := yaml.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("%s: Invalid\nError: %v", path, err)
	}
	rs.files = append(rs.files, rulesFile{path: path, empty: len(items) == 0})
	for i, it := range items {
		if err := rs.add(it); err != nil {
			return fmt.Errorf("%s: item %d: %w", path, i+1, err)
		}
	}
	return nil
}

func (rs *ruleset) add(it map[string]any) error {
	if name, ok := it["list"].(string); ok {
		items := stringList(it["items"], nil)
		if b, _ := it["append"].(bool); b || override(it, "items") == "append" {
			rs.lists[name] = append(rs.lists[name], items...)
		} else {
			rs.lists[name] = items
		}
		return nil
	}
	name, ok := it["rule"].(string)
	if !ok {
		return nil // macros, required_engine_version, ...: nothing the stand-in uses
	}
	r, exists := rs.rules[name]
	_, hasOverride := it["override"]
	appendLegacy, _ := it["append"].(bool)
	_, hasCondition := it["condition"]
	_, hasOutput := it["output"]
	if !exists && (hasOverride || appendLegacy) {
		return fmt.Errorf("rule %q: no such rule to override or append to", name)
	}
	switch {
	case hasOverride:
		for _, key := range []string{"output", "priority", "enabled", "tags"} {
			how := override(it, key)
			if how == "" {
				continue
			}
			if err := r.set(key, it[key], how == "append"); err != nil {
				return fmt.Errorf("rule %q: %w", name, err)
			}
		}
	case appendLegacy:
		// appends to the condition (and exceptions), which the stand-in does not evaluate
	case exists && !hasCondition && !hasOutput:
		// `- rule: X` with `enabled: false` only: switches it (Falco's older way of disabling a rule)
		if err := r.set("enabled", it["enabled"], false); err != nil {
			return fmt.Errorf("rule %q: %w", name, err)
		}
	default:
		r = &rule{name: name, enabled: true, source: "syscall"}
		for _, key := range []string{"output", "priority", "enabled", "tags"} {
			if v, ok := it[key]; ok {
				if err := r.set(key, v, false); err != nil {
					return fmt.Errorf("rule %q: %w", name, err)
				}
			}
		}
		if s, ok := it["source"].(string); ok {
			r.source = s
		}
		rs.rules[name] = r
	}
	return nil
}

// override returns how an item's override: says to treat key ("replace", "append" or "").
func override(it map[string]any, key string) string {
	m, _ := it["override"].(map[string]any)
	s, _ := m[key].(string)
	return s
}

func (r *rule) set(key string, v any, appendTo bool) error {
	switch key {
	case "output":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("output is not a string")
		}
		s = strings.TrimSpace(s)
		if appendTo {
			s = r.output + " " + s
		}
		r.output = s
	case "priority":
		s, _ := v.(string)
		p, ok := parsePriority(s)
		if !ok {
			return fmt.Errorf("priority %q is not a Falco priority", s)
		}
		r.priority = p
	case "enabled":
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("enabled is not true or false")
		}
		r.enabled = b
	case "tags":
		tags := stringList(v, nil)
		if appendTo {
			tags = append(r.tags, tags...)
		}
		r.tags = tags
	}
	return nil
}

// active returns the rule if it is defined, enabled and of at least the minimum priority.
func (rs *ruleset) active(name string, min priority) *rule {
	r := rs.rules[name]
	if r == nil || !r.enabled || r.priority > min {
		return nil
	}
	return r
}

// defaultPackageManagers is Falco's package_mgmt_binaries (falco-facts.md §1), for rules files that do
// not define the list.
var defaultPackageManagers = []string{
	"dnf", "rpm", "rpmkey", "yum", "75-system-updat", "rhsmcertd-worke", "rhsmcertd", "subscription-ma",
	"repoquery", "rpmkeys", "rpmq", "yum-cron", "yum-config-mana", "yum-debug-dump", "abrt-action-sav",
	"rpmdb_stat", "microdnf", "rhn_check", "yumdb",
	"dpkg", "dpkg-preconfigu", "dpkg-reconfigur", "dpkg-divert", "apt", "apt-get", "aptitude", "frontend",
	"preinst", "add-apt-reposit", "apt-auto-remova", "apt-key", "apt-listchanges", "unattended-upgr",
	"apt-add-reposit", "apt-config", "apt-cache", "apt.systemd.dai",
	"update-alternat", "gem", "npm", "pip", "pip3", "conda", "uv", "sane-utils.post", "alternatives", "chef-client", "apk", "snapd",
}

// packageManagers is the package_mgmt_binaries list with the lists it names expanded.
func (rs *ruleset) packageManagers() map[string]bool {
	out := map[string]bool{}
	if _, ok := rs.lists["package_mgmt_binaries"]; !ok {
		for _, n := range defaultPackageManagers {
			out[n] = true
		}
		return out
	}
	var expand func(name string, depth int)
	expand = func(name string, depth int) {
		for _, it := range rs.lists[name] {
			it = strings.Trim(it, `"'`)
			if _, isList := rs.lists[it]; isList && depth < 10 {
				expand(it, depth+1)
				continue
			}
			out[it] = true
		}
	}
	expand("package_mgmt_binaries", 0)
	return out
}
