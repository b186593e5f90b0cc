package scenarios

import "time"

// APIVersion and Kind head every scenario file.
const (
	APIVersion = "ckslab.dev/v1alpha1"
	Kind       = "Scenario"
)

// Scenario is one exam task turned into a lab, as written in a scenario file. Text fields may use the
// template fields of TemplateData ({{.Context}}, {{.Node}}, {{.Case1.Namespace}} ...); Instantiate renders
// them for one seed.
type Scenario struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	Spec       Spec     `yaml:"spec"`

	// Source is the file the scenario was read from (not part of the file).
	Source string `yaml:"-"`
}

// Metadata says what the task is.
type Metadata struct {
	// ID is the scenario's name on the command line; it equals the folder the file lives in.
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Domain is the CKS curriculum domain the task belongs to.
	Domain string `yaml:"domain"`
	// Weight is the task's share of the exam score, in percent.
	Weight int `yaml:"weight"`
	// TimeBudget is how long a well-prepared candidate should need.
	TimeBudget time.Duration `yaml:"timeBudget"`
}

// Spec is the lab: the task, what is set up, how it is graded, the hints and the reference solution.
type Spec struct {
	// Cluster is the exam's cluster name; the worker's Kubernetes node name is <cluster>-node1.
	Cluster string `yaml:"cluster"`
	// Context is the kubeconfig context the task tells the learner to use.
	Context string `yaml:"context"`
	// AnswerFile is the absolute path of the answer file in the exam terminal.
	AnswerFile string `yaml:"answerFile"`
	// MinSpan is the shortest capture the task accepts.
	MinSpan  time.Duration `yaml:"minSpan"`
	Task     Task          `yaml:"task"`
	Setup    Setup         `yaml:"setup"`
	Checks   []Check       `yaml:"checks"`
	Health   []Check       `yaml:"health"`
	Hints    []string      `yaml:"hints"`
	Solution []Step        `yaml:"solution"`
}

// Task is what the learner is told: an introduction and numbered requirement sentences.
type Task struct {
	Intro        string        `yaml:"intro"`
	Requirements []Requirement `yaml:"requirements"`
}

// Requirement is one sentence of the task that a check proves.
type Requirement struct {
	ID   string `yaml:"id"`
	Text string `yaml:"text"`
}

// Check describes one graded check. Scored checks prove requirements; health checks (Spec.Health) are
// reported apart and carry no points.
type Check struct {
	ID     string   `yaml:"id"`
	Title  string   `yaml:"title"`
	Points int      `yaml:"points"`
	Proves []string `yaml:"proves"`
}

// Image is a workload image kind; the image set maps it to a concrete image.
type Image string

// Workload images.
const (
	Nginx Image = "nginx"
	Httpd Image = "httpd"
)

// Behaviour is what a workload's container does besides serving.
type Behaviour string

// Behaviours.
const (
	// PackageManager runs a package-management command (apk) every interval: Falco's rule "Launch Package
	// Management Process in Container" fires.
	PackageManager Behaviour = "package-manager"
	// WriteEtcPasswd appends to /etc/passwd and removes the line again every interval: Falco's rule
	// "Write below etc" fires.
	WriteEtcPasswd Behaviour = "write-etc-passwd"
	// Serve only serves HTTP: no rule fires.
	Serve Behaviour = "serve"
)

// Placement says on which node a workload runs.
type Placement string

// Placements.
const (
	// Worker pins the workload to the worker node, <cluster>-node1 (where Falco runs).
	Worker Placement = "worker"
	// ControlPlane runs the workload on the control-plane node (toleration and nodeSelector).
	ControlPlane Placement = "control-plane"
)

// Setup is what the lab runs: the Falco rules file, the two offenders, the default decoys and the pools seeds
// pick from.
type Setup struct {
	// FalcoRulesFile is the rules file on the node that holds the offenders' rules; the learner edits it and
	// reset restores it.
	FalcoRulesFile string         `yaml:"falcoRulesFile"`
	Offenders      []OffenderSpec `yaml:"offenders"`
	Decoys         []DecoySpec    `yaml:"decoys"`
	Seeding        Seeding        `yaml:"seeding"`
	// Audit makes the scenario the API server auditing task: no offenders and no Falco, a basic audit policy
	// on the control plane and the requests grading makes. Decoys are its workloads (webapps and the others).
	Audit *AuditSetup `yaml:"audit"`
}

// AuditSetup is the auditing task's lab and what grading compares with: where the policy and the log must
// be, the retention flags, the objects to interact with, and the requests (probes) grading makes, each with
// the level its audit event must have.
type AuditSetup struct {
	// PolicyFile is where the basic policy is on the control plane, and the policy the API server must use.
	PolicyFile string `yaml:"policyFile"`
	// BasicPolicy is the file next to scenario.yaml that the lab writes to PolicyFile.
	BasicPolicy string `yaml:"basicPolicy"`
	// LogPath is where the API server must write its audit log, on the control plane.
	LogPath string `yaml:"logPath"`
	// MaxAge (days) and MaxBackup (files) are the retention the task asks for.
	MaxAge    int `yaml:"maxAge"`
	MaxBackup int `yaml:"maxBackup"`
	// ConfigMaps and Secrets are made at up, for the learner to interact with.
	ConfigMaps []ObjectRef `yaml:"configMaps"`
	Secrets    []ObjectRef `yaml:"secrets"`
	// Probes are the requests grading makes, each proving one check.
	Probes []Probe `yaml:"probes"`

	// Policy is the basic policy's text (read from BasicPolicy when the scenario is loaded).
	Policy []byte `yaml:"-"`
}

// ObjectRef names a namespaced object.
type ObjectRef struct {
	Namespace string `yaml:"namespace"`
	Name      string `yaml:"name"`
}

// ProbeResource is the kind of object a probe creates (a server-side dry run: nothing is stored).
type ProbeResource string

// Probe resources.
const (
	ProbeNamespaces      ProbeResource = "namespaces"
	ProbeDeployments     ProbeResource = "deployments"
	ProbeConfigMaps      ProbeResource = "configmaps"
	ProbeSecrets         ProbeResource = "secrets"
	ProbeServiceAccounts ProbeResource = "serviceaccounts"
)

// ProbeResources lists the resources a probe can create.
var ProbeResources = []ProbeResource{ProbeNamespaces, ProbeDeployments, ProbeConfigMaps, ProbeSecrets, ProbeServiceAccounts}

// Probe is one request grading makes of the API server: the create (dry run) of a Resource in Namespace,
// whose audit event must be at Level.
type Probe struct {
	ID        string        `yaml:"id"`
	Resource  ProbeResource `yaml:"resource"`
	Namespace string        `yaml:"namespace"`
	// Level is the audit level the task asks for this request: None, Metadata, Request or RequestResponse.
	Level string `yaml:"level"`
	// Check is the id of the scored check the probe belongs to.
	Check string `yaml:"check"`
	// What says in a few words what the request stands for: "a Secret in namespace team-red".
	What string `yaml:"what"`
}

// Audit levels, as Kubernetes names them.
var AuditLevels = []string{"None", "Metadata", "Request", "RequestResponse"}

// OffenderSpec is one misbehaving workload, as the exam has it (seed 0).
type OffenderSpec struct {
	// Case is the task's case number (1: nginx, 2: httpd).
	Case       int           `yaml:"case"`
	Image      Image         `yaml:"image"`
	Behaviour  Behaviour     `yaml:"behaviour"`
	Namespace  string        `yaml:"namespace"`
	Deployment string        `yaml:"deployment"`
	Container  string        `yaml:"container"`
	Replicas   int32         `yaml:"replicas"`
	Interval   time.Duration `yaml:"interval"`
	// Rule is the Falco rule the misbehaviour fires, as named in the lab's rules file.
	Rule string `yaml:"rule"`
}

// DecoySpec is one well-behaved workload of the default (seed 0) set.
type DecoySpec struct {
	Image      Image     `yaml:"image"`
	Namespace  string    `yaml:"namespace"`
	Deployment string    `yaml:"deployment"`
	Replicas   int32     `yaml:"replicas"`
	Placement  Placement `yaml:"placement"`
}

// Seeding holds the pools a seed other than 0 picks names from.
type Seeding struct {
	// Namespaces every offender and decoy namespace is drawn from, without repetition.
	Namespaces []string `yaml:"namespaces"`
	// Deployments are Deployment names per image.
	Deployments map[Image][]string `yaml:"deployments"`
	// Decoys is how many decoys a seeded lab has.
	Decoys Range `yaml:"decoys"`
}

// Range is an inclusive integer range.
type Range struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// Step is one step of the reference solution. Run is the command line a learner types in the exam terminal
// (bash), rendered with the instance's names; `ckslab solve` runs the steps in order.
type Step struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	Run   string `yaml:"run"`
	// Verify is a script run after Run, the same way, that succeeds only when what the step is for is true
	// (the rule's output changed, the answer file holds case 1's lines, the Deployment is at 0); it prints what
	// it saw when it is not. Every step has one: a step cannot say it succeeded without proving it.
	Verify string `yaml:"verify"`
	// Needs lists what the step cannot do without ("falco": Falco runs on the node).
	Needs []string `yaml:"needs"`
	// Timeout bounds the step (default DefaultStepTimeout).
	Timeout time.Duration `yaml:"timeout"`
}

// StepShell is how a step's script (Run or Verify) runs in the exam terminal: as the argument of a login bash
// that stops at the first failing command (also inside a pipeline), never on standard input. A script read from
// standard input can be eaten by any command in it that reads its own (ssh, kubectl exec -i, cat), and the step
// then "succeeds" having run nothing after that command; with -c, the script is out of their reach.
func StepShell(script string) []string {
	return []string{"bash", "-l", "-c", "set -e -o pipefail\n" + script}
}

// DefaultStepTimeout bounds a solution step that sets no timeout.
const DefaultStepTimeout = 2 * time.Minute

// NeedFalco is the Step.Needs value of steps that need Falco on the node.
const NeedFalco = "falco"
