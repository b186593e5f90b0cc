// Package scenarios holds ckslab's scenarios as versioned data: the task text, what the lab runs, the checks
// and their points, the hint ladder and the reference solution. The files are embedded in the binary and
// decoded strictly: an unknown field, a duplicate key or a broken cross-reference is an error that names the
// file, the line, the field and what to do.
//
// A Scenario is the file as written; Instantiate turns it into an Instance for one seed: the names of every
// workload chosen, the text rendered with them.
package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// FileName is the name of a scenario's definition inside its folder.
const FileName = "scenario.yaml"

//go:embed */*.yaml
var embedded embed.FS

// FS returns the embedded scenario files: one folder per scenario, each with a scenario.yaml and the files it
// names (an auditing scenario's basic policy).
func FS() fs.FS { return embedded }

// List returns the ids of the embedded scenarios, sorted.
func List() []string {
	ids, _ := ListFS(embedded) // fs.Glob fails only on a bad pattern, and the pattern is fixed
	return ids
}

// ListFS returns the ids of the scenarios in fsys (folders holding a scenario.yaml), sorted.
func ListFS(fsys fs.FS) ([]string, error) {
	matches, err := fs.Glob(fsys, "*/"+FileName)
	if err != nil {
		return nil, fmt.Errorf("listing scenarios: %w", err)
	}
	ids := make([]string, 0, len(matches))
	for _, m := range matches {
		ids = append(ids, path.Dir(m))
	}
	slices.Sort(ids)
	return ids, nil
}

// Load reads and validates the embedded scenario id.
func Load(id string) (*Scenario, error) {
	if !slices.Contains(List(), id) {
		return nil, fmt.Errorf("no scenario %q: choose one of %s", id, strings.Join(List(), ", "))
	}
	return LoadFS(embedded, path.Join(id, FileName))
}

// LoadFS reads, decodes strictly and validates the scenario file at name in fsys. The scenario's id must equal
// the name of the folder the file is in.
func LoadFS(fsys fs.FS, name string) (*Scenario, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	s, root, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	s.Source = name
	if a := s.Spec.Setup.Audit; a != nil && a.BasicPolicy != "" && path.Base(a.BasicPolicy) == a.BasicPolicy {
		// A missing file is reported by validate, with the field's line.
		a.Policy, _ = fs.ReadFile(fsys, path.Join(path.Dir(name), a.BasicPolicy))
	}
	if err := validate(s, root, path.Base(path.Dir(name))); err != nil {
		return nil, err
	}
	return s, nil
}

// decode parses data strictly: YAML errors and unknown fields come back with their line numbers.
func decode(name string, data []byte) (*Scenario, *yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, &Error{File: name, Problems: yamlProblems(err, "fix the YAML syntax")}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil, &Error{File: name, Problems: []Problem{{Problem: "the file is empty",
			Fix: "start it with apiVersion: " + APIVersion + " and kind: " + Kind}}}
	}
	// Check the header first, so that a file of another kind gets one clear message, not a list of
	// unknown fields.
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	_ = root.Decode(&head)
	var problems []Problem
	if head.APIVersion != APIVersion {
		problems = append(problems, Problem{Line: lineOf(&root, "apiVersion"), Field: "apiVersion",
			Problem: fmt.Sprintf("is %q", head.APIVersion), Fix: "set it to " + APIVersion})
	}
	if head.Kind != Kind {
		problems = append(problems, Problem{Line: lineOf(&root, "kind"), Field: "kind",
			Problem: fmt.Sprintf("is %q", head.Kind), Fix: "set it to " + Kind})
	}
	if len(problems) > 0 {
		return nil, nil, &Error{File: name, Problems: problems}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, nil, &Error{File: name, Problems: yamlProblems(err, "")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, &Error{File: name, Problems: []Problem{{Line: extra.Line, Problem: "a second YAML document",
			Fix: "keep one scenario per file: remove the text after ---"}}}
	}
	return &s, &root, nil
}

var (
	reUnknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	reLine         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// yamlProblems turns a yaml.v3 error into problems with lines and plain words.
func yamlProblems(err error, fix string) []Problem {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]Problem, 0, len(msgs))
	for _, m := range msgs {
		p := Problem{Problem: m, Fix: fix}
		if g := reUnknownField.FindStringSubmatch(m); g != nil {
			p.Line = atoi(g[1])
			p.Problem = fmt.Sprintf("unknown field %q", g[2])
			p.Fix = "remove it or fix its spelling (fields are case-sensitive, e.g. timeBudget, answerFile)"
		} else if g := reLine.FindStringSubmatch(m); g != nil {
			p.Line = atoi(g[1])
			p.Problem = strings.TrimPrefix(g[2], "yaml: ")
			switch {
			case strings.Contains(p.Problem, "cannot unmarshal"):
				p.Fix = "give the field a value of the right type (durations like 30s, whole numbers, lists)"
			case strings.Contains(p.Problem, "already defined"):
				p.Fix = "keep one of the two keys"
			}
		}
		if p.Fix == "" {
			p.Fix = "fix the YAML"
		}
		out = append(out, p)
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Problem is one thing wrong with a scenario file.
type Problem struct {
	// Line is the 1-based line in the file, 0 when unknown.
	Line int
	// Field is the field's path, like spec.checks[2].points.
	Field   string
	Problem string
	// Fix says what to do.
	Fix string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Problem)
	if p.Fix != "" {
		b.WriteString(": " + p.Fix)
	}
	return b.String()
}

// Error is a scenario file that cannot be used, with every problem found.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("scenario %s: %s", e.File, e.Problems[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s: %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// lineOf finds the line of the node at a path of mapping keys (string) and sequence indexes (int) below root
// (a document node); 0 if it is not there. The deepest node found on the way gives the line otherwise.
func lineOf(root *yaml.Node, steps ...any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, st := range steps {
		var next *yaml.Node
		switch k := st.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k >= 0 && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
