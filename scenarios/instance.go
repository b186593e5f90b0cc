package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Role says whether a workload is one the learner must find or one that behaves.
type Role string

// Roles.
const (
	Offender Role = "offender"
	Decoy    Role = "decoy"
)

// Workload is one Deployment of an instance, with every name chosen.
type Workload struct {
	Role Role
	// Case is the task's case number of an offender (1 or 2); 0 for decoys.
	Case      int
	Image     Image
	Behaviour Behaviour
	Namespace string
	// Deployment is the Deployment's name; its Pods carry the label app=<Deployment>.
	Deployment string
	Container  string
	Replicas   int32
	Placement  Placement
	// Node is the Kubernetes node name the workload is pinned to (Placement Worker), "" otherwise.
	Node string
	// Interval is how often an offender misbehaves; 0 for decoys.
	Interval time.Duration
	// Rule is the Falco rule an offender fires; "" for decoys.
	Rule string
}

// Key is namespace/deployment.
func (w Workload) Key() string { return w.Namespace + "/" + w.Deployment }

// Describe names the workload for a learner: "the httpd offender of case 2, team-purple/rating-service" or
// "the nginx decoy team-green/storefront" (the answer-file grader says whose lines were saved by mistake).
func (w Workload) Describe() string {
	if w.Role == Offender {
		return fmt.Sprintf("the %s offender of case %d, %s", w.Image, w.Case, w.Key())
	}
	return fmt.Sprintf("the %s decoy %s", w.Image, w.Key())
}

// Instance is a scenario for one seed: every name chosen, every text rendered. It is what provisioning,
// grading, hints and solve work from.
type Instance struct {
	ScenarioID string
	Title      string
	Domain     string
	TimeBudget time.Duration
	Seed       int64

	// Cluster is the exam's cluster name; WorkerNode is the worker's Kubernetes node name (<cluster>-node1),
	// where Falco and the offenders run.
	Cluster    string
	Context    string
	WorkerNode string
	// ControlPlaneNode is the name the control plane goes by in the exam terminal (ssh <cluster>-controlplane1).
	ControlPlaneNode string
	AnswerFile       string
	MinSpan          time.Duration
	// FalcoRulesFile is the node's rules file that holds the offenders' rules.
	FalcoRulesFile string
	// Audit is the auditing task's setup; nil for the Falco task.
	Audit *AuditSetup

	Intro        string
	Requirements []Requirement
	// Offenders are in case order: Offenders[0] is case 1.
	Offenders []Workload
	// Decoys are sorted by namespace.
	Decoys   []Workload
	Checks   []Check
	Health   []Check
	Hints    []string
	Solution []Step
}

// UsesFalco says whether the lab runs Falco on the worker for the task (the Falco task; not the auditing one).
func (in *Instance) UsesFalco() bool { return in.Audit == nil }

// SSHNodes are the nodes the task reaches with ssh <node> from the exam terminal: the worker, and the control
// plane first when the task is done there (the auditing task).
func (in *Instance) SSHNodes() []string {
	if in.Audit != nil {
		return []string{in.ControlPlaneNode, in.WorkerNode}
	}
	return []string{in.WorkerNode}
}

// Offender returns the offender of case n (1 or 2).
func (in *Instance) Offender(n int) (Workload, bool) {
	for _, w := range in.Offenders {
		if w.Case == n {
			return w, true
		}
	}
	return Workload{}, false
}

// Workloads returns the offenders, then the decoys.
func (in *Instance) Workloads() []Workload {
	return append(slices.Clone(in.Offenders), in.Decoys...)
}

// Namespaces returns the namespaces of every workload, sorted, once each.
func (in *Instance) Namespaces() []string {
	var out []string
	for _, w := range in.Workloads() {
		out = append(out, w.Namespace)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Check returns the scored or health check with id.
func (in *Instance) Check(id string) (Check, bool) {
	for _, c := range slices.Concat(in.Checks, in.Health) {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// TaskText is the task as the learner reads it: the introduction and the numbered requirements.
func (in *Instance) TaskText() string {
	var b strings.Builder
	b.WriteString(in.Intro + "\n\n")
	for i, r := range in.Requirements {
		fmt.Fprintf(&b, "%d. %s\n", i+1, r.Text)
	}
	return b.String()
}

// TemplateData is what a scenario's text fields can use.
type TemplateData struct {
	Cluster          string
	Context          string
	Node             string
	ControlPlaneNode string
	// Audit is the auditing task's setup (its PolicyFile, LogPath, MaxAge, MaxBackup); nil for the Falco task.
	Audit          *AuditSetup
	AnswerFile     string
	FalcoRulesFile string
	MinSpanSeconds int
	Case1, Case2   Workload
}

// Option changes how Instantiate builds an instance.
type Option func(*instanceOptions)

type instanceOptions struct {
	cluster string
}

// WithCluster names the lab's cluster when it is not the exam's (spec.cluster): several labs side by side on
// one host. The worker node becomes <cluster>-node1 everywhere: node pinning, task text, hints, solution.
func WithCluster(name string) Option { return func(o *instanceOptions) { o.cluster = name } }

// Instantiate chooses the names for seed and renders the texts. Seed 0 is the exam's own lab, with the names
// written in the file; any other seed draws namespaces, Deployment names and the decoy set from the file's
// pools, the same way every time for the same seed.
func (s *Scenario) Instantiate(seed int64, opts ...Option) (*Instance, error) {
	sp := &s.Spec
	o := instanceOptions{cluster: sp.Cluster}
	for _, opt := range opts {
		opt(&o)
	}
	if errs := validation.IsDNS1123Label(o.cluster); len(errs) > 0 || len(o.cluster) > MaxNameLength {
		return nil, fmt.Errorf("scenario %s: cluster name %q is not usable (%s): use lowercase letters, digits and '-', at most %d characters",
			s.Metadata.ID, o.cluster, strings.Join(errs, "; "), MaxNameLength)
	}
	in := &Instance{
		ScenarioID: s.Metadata.ID,
		Title:      s.Metadata.Title,
		Domain:     s.Metadata.Domain,
		TimeBudget: s.Metadata.TimeBudget,
		Seed:       seed,
		Cluster:    o.cluster,
		Context:    sp.Context,
		WorkerNode: WorkerNodeName(o.cluster),
		AnswerFile: sp.AnswerFile,

		ControlPlaneNode: ControlPlaneNodeName(o.cluster),
		Audit:            sp.Setup.Audit,
		MinSpan:          sp.MinSpan,

		FalcoRulesFile: sp.Setup.FalcoRulesFile,
	}
	if seed != 0 && sp.Setup.Audit != nil {
		return nil, fmt.Errorf("scenario %s has one set of names: --seed works for the Falco scenario only; leave it out", s.Metadata.ID)
	}
	if seed == 0 {
		in.Offenders, in.Decoys = defaultWorkloads(s, in.WorkerNode)
	} else {
		var err error
		if in.Offenders, in.Decoys, err = seededWorkloads(s, seed, in.WorkerNode); err != nil {
			return nil, err
		}
	}
	data, err := in.templateData()
	if err != nil {
		return nil, err
	}
	// Render a copy of the texts, then lift them into the instance.
	c := cloneTexts(s)
	for _, f := range textFields(c) {
		out, err := render(*f.text, data)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %s: %w", s.Source, fieldPath(f.at), err)
		}
		*f.text = out
	}
	in.Intro = c.Spec.Task.Intro
	in.Requirements = c.Spec.Task.Requirements
	in.Checks = c.Spec.Checks
	in.Health = c.Spec.Health
	in.Hints = c.Spec.Hints
	in.Solution = c.Spec.Solution
	for i := range in.Solution {
		if in.Solution[i].Timeout == 0 {
			in.Solution[i].Timeout = DefaultStepTimeout
		}
	}
	return in, nil
}

// WorkerNodeName is the worker's Kubernetes node name in cluster: <cluster>-node1.
func WorkerNodeName(cluster string) string { return cluster + "-node1" }

// ControlPlaneNodeName is the control plane's name in the exam terminal: <cluster>-controlplane1.
func ControlPlaneNodeName(cluster string) string { return cluster + "-controlplane1" }

func (in *Instance) templateData() (TemplateData, error) {
	c1, ok1 := in.Offender(1)
	c2, ok2 := in.Offender(2)
	if in.Audit == nil && (!ok1 || !ok2) {
		return TemplateData{}, fmt.Errorf("scenario %s: cases 1 and 2 must both be defined", in.ScenarioID)
	}
	return TemplateData{
		Cluster:          in.Cluster,
		Context:          in.Context,
		Node:             in.WorkerNode,
		ControlPlaneNode: in.ControlPlaneNode,
		Audit:            in.Audit,
		AnswerFile:       in.AnswerFile,
		FalcoRulesFile:   in.FalcoRulesFile,
		MinSpanSeconds:   int(in.MinSpan / time.Second),
		Case1:            c1,
		Case2:            c2,
	}, nil
}

// defaultData is the template data of seed 0, for validation.
func defaultData(s *Scenario) (TemplateData, error) {
	in := &Instance{ScenarioID: s.Metadata.ID, Cluster: s.Spec.Cluster, Context: s.Spec.Context,
		WorkerNode: WorkerNodeName(s.Spec.Cluster), AnswerFile: s.Spec.AnswerFile, MinSpan: s.Spec.MinSpan,
		FalcoRulesFile: s.Spec.Setup.FalcoRulesFile, ControlPlaneNode: ControlPlaneNodeName(s.Spec.Cluster), Audit: s.Spec.Setup.Audit}
	in.Offenders, in.Decoys = defaultWorkloads(s, in.WorkerNode)
	return in.templateData()
}

func render(text string, data TemplateData) (string, error) {
	t, err := template.New("text").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// cloneTexts copies the parts of s that rendering writes to.
func cloneTexts(s *Scenario) *Scenario {
	c := *s
	c.Spec.Task.Requirements = slices.Clone(s.Spec.Task.Requirements)
	c.Spec.Checks = slices.Clone(s.Spec.Checks)
	c.Spec.Health = slices.Clone(s.Spec.Health)
	c.Spec.Hints = slices.Clone(s.Spec.Hints)
	c.Spec.Solution = slices.Clone(s.Spec.Solution)
	for i := range c.Spec.Checks {
		c.Spec.Checks[i].Proves = slices.Clone(s.Spec.Checks[i].Proves)
	}
	for i := range c.Spec.Solution {
		c.Spec.Solution[i].Needs = slices.Clone(s.Spec.Solution[i].Needs)
	}
	return &c
}

func offender(o OffenderSpec, ns, deployment, node string) Workload {
	return Workload{
		Role: Offender, Case: o.Case, Image: o.Image, Behaviour: o.Behaviour,
		Namespace: ns, Deployment: deployment, Container: o.Container, Replicas: o.Replicas,
		Placement: Worker, Node: node, Interval: o.Interval, Rule: o.Rule,
	}
}

func decoy(img Image, ns, deployment string, replicas int32, p Placement, worker string) Workload {
	w := Workload{
		Role: Decoy, Image: img, Behaviour: Serve, Namespace: ns, Deployment: deployment,
		Container: string(img), Replicas: replicas, Placement: p,
	}
	if p == Worker {
		w.Node = worker
	}
	return w
}

func sortOffenders(ws []Workload) {
	slices.SortFunc(ws, func(a, b Workload) int { return a.Case - b.Case })
}

func sortDecoys(ws []Workload) {
	slices.SortFunc(ws, func(a, b Workload) int { return strings.Compare(a.Key(), b.Key()) })
}

func defaultWorkloads(s *Scenario, worker string) (offenders, decoys []Workload) {
	for _, o := range s.Spec.Setup.Offenders {
		offenders = append(offenders, offender(o, o.Namespace, o.Deployment, worker))
	}
	for _, d := range s.Spec.Setup.Decoys {
		decoys = append(decoys, decoy(d.Image, d.Namespace, d.Deployment, d.Replicas, d.Placement, worker))
	}
	sortOffenders(offenders)
	sortDecoys(decoys)
	return offenders, decoys
}

// seedStream is mixed into the PCG state so that seeds 1, 2, 3 ... do not start from near-identical states.
const seedStream = 0x636b736c61622121 // "ckslab!!"

// seededWorkloads draws every name without repetition: each offender and decoy gets a namespace of its own
// and every Deployment name is used once. The decoys always include an nginx and an httpd on the worker
// (next to the offenders) and at least one on the control plane.
func seededWorkloads(s *Scenario, seed int64, worker string) (offenders, decoys []Workload, err error) {
	pools := s.Spec.Setup.Seeding
	rng := rand.New(rand.NewPCG(uint64(seed), seedStream))
	namespaces := shuffled(rng, pools.Namespaces)
	names := map[Image][]string{}
	for _, img := range []Image{Nginx, Httpd} {
		names[img] = shuffled(rng, pools.Deployments[img])
	}
	take := func(list *[]string, what string) (string, error) {
		if len(*list) == 0 {
			return "", fmt.Errorf("scenario %s: seed %d: the pool of %s is exhausted", s.Source, seed, what)
		}
		v := (*list)[0]
		*list = (*list)[1:]
		return v, nil
	}
	for _, o := range s.Spec.Setup.Offenders {
		ns, err := take(&namespaces, "namespaces")
		if err != nil {
			return nil, nil, err
		}
		l := names[o.Image]
		name, err := take(&l, string(o.Image)+" Deployment names")
		if err != nil {
			return nil, nil, err
		}
		names[o.Image] = l
		offenders = append(offenders, offender(o, ns, name, worker))
	}
	n := pools.Decoys.Min + rng.IntN(pools.Decoys.Max-pools.Decoys.Min+1)
	type shape struct {
		img Image
		p   Placement
	}
	images := []Image{Nginx, Httpd}
	shapes := []shape{{Nginx, Worker}, {Httpd, Worker}, {images[rng.IntN(2)], ControlPlane}}
	for len(shapes) < n {
		shapes = append(shapes, shape{images[rng.IntN(2)], []Placement{Worker, ControlPlane}[rng.IntN(2)]})
	}
	for _, sh := range shapes {
		ns, err := take(&namespaces, "namespaces")
		if err != nil {
			return nil, nil, err
		}
		l := names[sh.img]
		name, err := take(&l, string(sh.img)+" Deployment names")
		if err != nil {
			return nil, nil, err
		}
		names[sh.img] = l
		decoys = append(decoys, decoy(sh.img, ns, name, 1, sh.p, worker))
	}
	sortOffenders(offenders)
	sortDecoys(decoys)
	return offenders, decoys, nil
}

func shuffled(rng *rand.Rand, in []string) []string {
	out := slices.Clone(in)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
