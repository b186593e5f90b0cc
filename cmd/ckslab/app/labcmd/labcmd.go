// Package labcmd holds the lab's lifecycle commands: up, down, status,
// shell and ssh.
package labcmd

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/cli"
	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/lab"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
)

// addName adds --name to a command that works on a lab. Without it, the command takes the only lab there is,
// else cluster1.
func addName(c *cobra.Command, name *string) {
	c.Flags().StringVar(name, "name", lab.DefaultName, "the lab's name (several labs can live side by side; without --name: the only lab there is, else cluster1)")
	completeName(c)
	inner := c.PreRunE
	c.PreRunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("name") {
			if dir, err := cacheDir(); err == nil {
				names, _ := lab.List(dir)
				switch {
				case len(names) == 1:
					*name = names[0]
				case len(names) > 1 && !slices.Contains(names, lab.DefaultName):
					return &cli.UsageError{Err: fmt.Errorf("there are %d labs (%s) and none is %s: choose one with --name", len(names), strings.Join(names, ", "), lab.DefaultName)}
				}
			}
		}
		if inner != nil {
			return inner(cmd, args)
		}
		return nil
	}
}

// checkScenario is the usage error of a --scenario that names no scenario.
func checkScenario(id string) error {
	if slices.Contains(scenarios.List(), id) {
		return nil
	}
	return &cli.UsageError{Err: fmt.Errorf("--scenario: there is no scenario %q: choose one of %s (ckslab scenarios)", id, strings.Join(scenarios.List(), ", "))}
}

func completeName(c *cobra.Command) {
	_ = c.RegisterFlagCompletionFunc("name", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		dir, err := images.CacheDir(os.Getenv)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, _ := lab.List(dir)
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

func cacheDir() (string, error) { return images.CacheDir(os.Getenv) }

func verbosity(c *cobra.Command) int {
	v, _ := c.Flags().GetInt("verbosity")
	return v
}

// NewUpCommand returns `ckslab up`.
func NewUpCommand(streams cli.IOStreams) *cobra.Command {
	var o struct {
		name, scenario, images, falcoPackage, falcoSHA256 string
		falcoPreflight                                    string
		seed                                              int64
		retain                                            bool
	}
	c := &cobra.Command{
		Use:   "up",
		Short: "Create the lab: the kind cluster, the scenario (Falco on cluster1-node1 by default), the exam terminal",
		Long: `Create the lab, or converge one that an interrupted up left behind. --scenario chooses
the task (ckslab scenarios lists them; default falco-runtime); the lab is named after the
scenario's cluster (cluster1, cluster2 for audit-logging) unless --name says otherwise,
and keeps its scenario (up --name cluster2 on it needs no --scenario). On a lab that is
already up, up is a repair: it checks the nodes, the worker's services, the kubeconfig
context, the API through it, the exam terminal's kubectl and ssh, and Falco, fixes what
is wrong and says what it fixed, or that all was well; one without Falco tries Falco again.

The image set is public (kind's node image and Docker Hub's nginx and httpd, pulled on
demand; for machines online) or local (built on this machine with make images; for
machines without a container registry): --images, or the environment variable
CKSLAB_IMAGES (default public).

Falco is downloaded once and cached, or taken from --falco-package for classrooms
without internet. When Falco cannot run on this machine (the preflight finds a problem,
or Falco installs but stops at start-up), the lab says why, in Falco's own words when it
ran, and runs without it; up on that lab later tries Falco again. --falco-preflight=warn
installs Falco despite the preflight's problems (for builds that tolerate them) and
records which.

While it works, up holds the lab's lock, as down, reset and solve do: another of them
on the same lab waits up to 2 minutes (CKSLAB_LOCK_WAIT) and then stops, naming the
command at work.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := images.ModeFrom(o.images, os.Getenv)
			if err != nil {
				return &cli.UsageError{Err: fmt.Errorf("--images: %w", err)}
			}
			if o.name != "" {
				if err := lab.ValidateName(o.name); err != nil {
					return &cli.UsageError{Err: fmt.Errorf("--name: %w", err)}
				}
			}
			if o.scenario != "" {
				if err := checkScenario(o.scenario); err != nil {
					return err
				}
			}
			preflight, err := lab.ParsePreflightMode(o.falcoPreflight)
			if err != nil {
				return &cli.UsageError{Err: fmt.Errorf("--falco-preflight: %w", err)}
			}
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			start := time.Now()
			st := status.New(streams.ErrOut, cli.IsTerminal(streams.ErrOut))
			s, err := lab.Up(cmd.Context(), lab.Options{
				Name: o.name, Scenario: o.scenario, Seed: o.seed, Images: mode, FalcoPackage: o.falcoPackage, FalcoSHA256: o.falcoSHA256, FalcoPreflight: preflight,
				Retain: o.retain, CacheDir: dir, Logger: cli.NewLogger(streams.ErrOut, verbosity(cmd)), Status: st, Out: streams.Out,
			})
			if errors.Is(err, lab.ErrAlreadyUp) {
				if !s.Falco.Installed {
					fmt.Fprintf(streams.Out, "Lab %q is already up (since %s), still without Falco: %s\nNothing else changed. See it with: ckslab status --name %s\n",
						s.Name, s.ReadyAt.Local().Format(time.DateTime), s.Falco.Missing, s.Name)
					return nil
				}
				fmt.Fprintf(streams.Out, "Lab %q is already up (since %s) and all is well: nothing changed. See it with: ckslab status --name %s\n",
					s.Name, s.ReadyAt.Local().Format(time.DateTime), s.Name)
				return nil
			}
			if err != nil {
				return err
			}
			if len(s.Repaired) > 0 {
				fmt.Fprintf(streams.Out, "Lab %q was up and is repaired: %s.\n", s.Name, strings.Join(s.Repaired, "; "))
			}
			printReady(streams, s, time.Since(start))
			return nil
		},
	}
	c.Flags().StringVar(&o.name, "name", "", "the lab's name (several labs can live side by side; default: the scenario's cluster, cluster1 for falco-runtime)")
	completeName(c)
	f := c.Flags()
	f.StringVar(&o.scenario, "scenario", "", "the scenario to make a lab for (ckslab scenarios lists them; default: the lab's own when it exists, else falco-runtime)")
	_ = c.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(scenarios.List(), cobra.ShellCompDirectiveNoFileComp))
	f.Int64Var(&o.seed, "seed", 0, "0: the exam's names; another number picks other namespaces, names and decoys, reproducibly")
	f.StringVar(&o.images, "images", "", "image set: public or local (default: $CKSLAB_IMAGES, else public)")
	f.StringVar(&o.falcoPackage, "falco-package", "", "a local Falco .deb to install instead of downloading one (default: $CKSLAB_FALCO_PACKAGE)")
	f.StringVar(&o.falcoSHA256, "falco-sha256", "", "expected SHA-256 of the downloaded Falco package, instead of the pinned one; on an aarch64 node, a download checked against it instead of Falco's signed repository")
	f.StringVar(&o.falcoPreflight, "falco-preflight", string(lab.PreflightRefuse), "when the Falco preflight finds a problem: refuse (no Falco, saying why) or warn (install it anyway, saying which; for Falco builds that tolerate it)")
	f.BoolVar(&o.retain, "retain", false, "keep a half-built lab when up fails, for debugging")
	_ = c.RegisterFlagCompletionFunc("images", cobra.FixedCompletions([]string{"public", "local"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("falco-preflight", cobra.FixedCompletions(lab.PreflightModes, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func printReady(streams cli.IOStreams, s *lab.State, took time.Duration) {
	if !lab.HasFalco(s) {
		in, err := lab.Instance(s)
		if err != nil {
			fmt.Fprintf(streams.Out, "\nLab %q is up (%s).\n", s.Name, took.Round(time.Second))
			return
		}
		fmt.Fprintf(streams.Out, `
Lab %q is up (%s): %s.
  kubectl context: %s
  exam terminal:   ckslab shell%s   (ssh %s work there)

Next: ckslab task%s, then ckslab shell%s. When done: ckslab grade%s. Remove everything: ckslab down%s
`, s.Name, took.Round(time.Second), in.Title, s.Context, nameFlag(s.Name), strings.Join(lab.SSHNodes(in), " and ssh "),
			nameFlag(s.Name), nameFlag(s.Name), nameFlag(s.Name), nameFlag(s.Name))
		return
	}
	falcoLine := "Falco " + s.Falco.Version + " runs as a service on " + cluster.WorkerNodeName(s.Name)
	if !s.Falco.Installed {
		falcoLine = "NO FALCO in this lab: " + s.Falco.Missing
	}
	fmt.Fprintf(streams.Out, `
Lab %q is up (%s).
  %s
  kubectl context: %s
  exam terminal:   ckslab shell%s   (ssh %s works there)
  answer file:     /opt/course/2/falco.log in the terminal = %s/2/falco.log here

Next: ckslab task, then ckslab shell. When done: ckslab grade. Remove everything: ckslab down%s
`, s.Name, took.Round(time.Second), falcoLine, s.Context, nameFlag(s.Name), cluster.WorkerNodeName(s.Name), s.CourseDir, nameFlag(s.Name))
}

func nameFlag(name string) string {
	if name == lab.DefaultName {
		return ""
	}
	return " --name " + name
}

// NewDownCommand returns `ckslab down`.
func NewDownCommand(streams cli.IOStreams) *cobra.Command {
	var name string
	var purge bool
	c := &cobra.Command{
		Use:   "down",
		Short: "Remove the lab and everything it created",
		Long: `Remove the lab: the exam terminal, the cluster's nodes and volumes (and kind's network
when no other cluster uses it), the kubeconfig context, and the lab's folder with its
state. Your work is not deleted: the course folder (your answer file) and the kept
grades are moved to a folder of their own, <cache>/attempts/<lab>-<time>/, and down
says where. --purge removes them too. A lab that does not exist is not an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lab.ValidateName(name); err != nil {
				return &cli.UsageError{Err: fmt.Errorf("--name: %w", err)}
			}
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			st := status.New(streams.ErrOut, cli.IsTerminal(streams.ErrOut))
			err = lab.Down(cmd.Context(), lab.Options{Name: name, CacheDir: dir, Purge: purge, Out: streams.Out,
				Logger: cli.NewLogger(streams.ErrOut, verbosity(cmd)), Status: st})
			if errors.Is(err, lab.ErrNothingToRemove) {
				fmt.Fprintf(streams.Out, "There is no lab %q; nothing to remove.\n", name)
				return nil
			}
			if err != nil {
				return err
			}
			if purge {
				fmt.Fprintf(streams.Out, "Lab %q removed, with your work; nothing of it is left.\n", name)
			} else {
				fmt.Fprintf(streams.Out, "Lab %q removed.\n", name)
			}
			return nil
		},
	}
	addName(c, &name)
	c.Flags().BoolVar(&purge, "purge", false, "remove your work too (course folder, kept grades) instead of keeping it under <cache>/attempts")
	return c
}

// NewStatusCommand returns `ckslab status`.
func NewStatusCommand(streams cli.IOStreams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the lab at a glance: nodes, Falco, the terminal, time spent, grades",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			r, err := lab.Inspect(cmd.Context(), dir, name)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(streams.Out, r.String())
			return err
		},
	}
	addName(c, &name)
	return c
}

// NewShellCommand returns `ckslab shell`.
func NewShellCommand(streams cli.IOStreams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "shell [-- COMMAND...]",
		Short: "Open the exam terminal (kubectl with the task's context, ssh to the nodes, /opt/course)",
		Long: `Open a shell in the exam terminal: kubectl is set to the task's context (workload-prod;
infra-prod for audit-logging), ssh cluster1-node1 works (and ssh cluster2-controlplane1
in the auditing lab), and /opt/course is the lab's course folder on this machine,
which ckslab grade reads. After --, runs that command instead of a shell.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			s, err := lab.Load(dir, name)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"bash", "-l"}
			}
			return dockerExec(streams, name, s.Terminal, args)
		},
	}
	addName(c, &name)
	return c
}

// NewSSHCommand returns `ckslab ssh NODE`.
func NewSSHCommand(streams cli.IOStreams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "ssh NODE [-- COMMAND...]",
		Short: "Open a shell on a node of the lab (cluster1-node1, cluster1-controlplane1)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			if _, err := lab.Load(dir, name); err != nil {
				return err
			}
			container, ok := map[string]string{
				cluster.WorkerNodeName(name):         lab.WorkerContainer(name),
				lab.WorkerContainer(name):            lab.WorkerContainer(name),
				scenarios.ControlPlaneNodeName(name): lab.ControlPlaneContainer(name),
				name + "-controlplane":               lab.ControlPlaneContainer(name),
				lab.ControlPlaneContainer(name):      lab.ControlPlaneContainer(name),
			}[args[0]]
			if !ok {
				return &cli.UsageError{Err: fmt.Errorf("lab %q has no node %q: use %s or %s", name, args[0], cluster.WorkerNodeName(name), scenarios.ControlPlaneNodeName(name))}
			}
			rest := args[1:]
			if len(rest) == 0 {
				rest = []string{"bash", "-l"}
			}
			return dockerExec(streams, name, container, rest)
		},
	}
	addName(c, &name)
	return c
}

// dockerExec runs argv in a container with the user's terminal attached.
func dockerExec(streams cli.IOStreams, labName, container string, argv []string) error {
	docker, err := osexec.LookPath("docker")
	if err != nil {
		return errors.New("docker is not installed (no docker command on PATH)")
	}
	if out, err := osexec.Command(docker, "inspect", "--format", "{{.State.Status}}", container).Output(); err != nil {
		return fmt.Errorf("the lab's container %s does not exist: the lab is damaged; remove it with ckslab down%s (your work is kept aside) and run ckslab up%s",
			container, nameFlag(labName), nameFlag(labName))
	} else if st := strings.TrimSpace(string(out)); st != "running" {
		return fmt.Errorf("the lab's container %s is %s (after a restart of the Docker engine, for example): ckslab up%s repairs the lab",
			container, st, nameFlag(labName))
	}
	flags := []string{"exec", "--interactive"}
	if cli.IsTerminal(streams.Out) && isTerminalReader(streams.In) {
		flags = append(flags, "--tty")
	}
	cmd := osexec.Command(docker, append(append(flags, container), argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = streams.In, streams.Out, streams.ErrOut
	if err := cmd.Run(); err != nil {
		var ee *osexec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Exited() {
				return &cli.ExitError{Code: ws.ExitStatus()}
			}
		}
		return fmt.Errorf("docker exec %s %s: %w", container, strings.Join(argv, " "), err)
	}
	return nil
}

func isTerminalReader(r any) bool {
	f, ok := r.(*os.File)
	return ok && cli.IsTerminal(f)
}

// NewTaskCommand returns `ckslab task`.
func NewTaskCommand(streams cli.IOStreams) *cobra.Command {
	var name, scenario string
	var seed int64
	c := &cobra.Command{
		Use:   "task",
		Short: "Print the task, with the names of your lab",
		Long: `Print the task as the exam states it, with the names of your lab (its seed decides
them). Without a lab, prints the task of a lab created with --seed (default 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			if err := checkScenario(scenario); err != nil {
				return err
			}
			if cmd.Flags().Changed("scenario") && !cmd.Flags().Changed("name") {
				if sc, err := scenarios.Load(scenario); err == nil {
					name = sc.Spec.Cluster // the lab up --scenario makes
				}
			}
			s, err := lab.Load(dir, name)
			note := ""
			switch {
			case err == nil:
				seed = s.Seed
				if cmd.Flags().Changed("scenario") && scenario != s.ScenarioID() {
					return &cli.UsageError{Err: fmt.Errorf("lab %q runs scenario %s, not %s: leave out --scenario, or name another lab with --name", name, s.ScenarioID(), scenario)}
				}
				scenario = s.ScenarioID()
				if !s.Falco.Installed && lab.HasFalco(s) {
					note = "\nNote: this lab has no Falco (" + s.Falco.Missing + ")\n"
				}
				if in, ierr := lab.Instance(s); ierr == nil {
					if t := s.TaskTime(time.Now(), in.TimeBudget); t != nil {
						note += fmt.Sprintf("\nTime spent: %s (since %s; no hard stop).\n", t, t.StartedAt.Local().Format(time.DateTime))
					}
				}
			case errors.Is(err, lab.ErrNoLab):
				up := "ckslab up"
				if scenario != lab.ScenarioID {
					up += " --scenario " + scenario
				}
				if sc, err := scenarios.Load(scenario); err == nil && sc.Spec.Cluster != name {
					up += " --name " + name
				}
				note = fmt.Sprintf("\n(There is no lab %q yet: create it with %s.)\n", name, up)
			default:
				return err
			}
			in, err := lab.InstanceOf(scenario, name, seed)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(streams.Out, "%s (%s, about %s)\n\n%s%s", in.Title, in.Domain, in.TimeBudget, in.TaskText(), note)
			return err
		},
	}
	addName(c, &name)
	c.Flags().Int64Var(&seed, "seed", 0, "the seed, when there is no lab")
	c.Flags().StringVar(&scenario, "scenario", lab.ScenarioID, "the scenario, when there is no lab (ckslab scenarios lists them)")
	_ = c.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(scenarios.List(), cobra.ShellCompDirectiveNoFileComp))
	return c
}

// NewGradeCommand returns `ckslab grade`.
func NewGradeCommand(streams cli.IOStreams) *cobra.Command {
	var name, output string
	var reveal, history bool
	c := &cobra.Command{
		Use:   "grade",
		Short: "Grade your work on the live lab",
		Long: `Grade the answer file and the cluster's state against the truth: the offenders' real
container ids (recorded while they ran), Falco's own alerts on the node, and the
Deployments. Environment health (the node, Falco) is reported apart from the score.

The report keeps the puzzle: it does not name what the task asks you to find (the
offenders' namespaces, Deployments, Pods, container ids) unless your own work shows it.
--reveal names everything, and so does every grade after ckslab solve or the last hint.

Each grade is kept in the lab's folder, with the time spent on the task; --history
lists them. reset keeps them; down moves them aside with your course folder.

A lab of the auditing scenario (audit-logging) is graded by the API server that runs:
the flags of its process, its policy as it reads it, and the events it logs for requests
grade makes (dry runs); an API server that does not answer within 45 s cannot be graded.

Exit codes: 0 all scored checks pass (warnings allowed), 1 some fail, 2 could not grade
(no lab, cluster down, the API server not running, ...).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := grader.ParseFormat(output)
			if err != nil {
				return &cli.UsageError{Err: fmt.Errorf("--output: %w", err)}
			}
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			if history {
				if _, err := lab.Load(dir, name); err != nil {
					return &cli.ExitError{Code: grader.ExitCannotGrade, Err: err}
				}
				attempts, err := lab.Attempts(dir, name)
				if err != nil {
					return &cli.ExitError{Code: grader.ExitCannotGrade, Err: err}
				}
				_, err = fmt.Fprint(streams.Out, lab.History(attempts))
				return err
			}
			report, err := lab.Grade(cmd.Context(), dir, name, lab.WithReveal(reveal))
			if err != nil {
				return &cli.ExitError{Code: grader.ExitCannotGrade, Err: err}
			}
			if _, err := lab.SaveAttempt(dir, name, report); err != nil {
				fmt.Fprintf(streams.ErrOut, "warning: this grade is not kept: %v\n", err)
			}
			if err := grader.Render(streams.Out, report, format, grader.RenderOptions{Color: format == grader.Text && cli.ColorEnabled(streams.Out)}); err != nil {
				return &cli.ExitError{Code: grader.ExitCannotGrade, Err: err}
			}
			if code := report.Summary().ExitCode; code != 0 {
				return &cli.ExitError{Code: code}
			}
			return nil
		},
	}
	addName(c, &name)
	c.Flags().StringVarP(&output, "output", "o", string(grader.Text), "report format: "+strings.Join(grader.Formats, ", "))
	c.Flags().BoolVar(&reveal, "reveal", false, "name everything: the offenders' namespaces, Deployments, Pods and container ids")
	c.Flags().BoolVar(&history, "history", false, "list the kept grades (time, score, time spent) instead of grading")
	c.MarkFlagsMutuallyExclusive("history", "reveal")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(grader.Formats, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// NewHintCommand returns `ckslab hint`.
func NewHintCommand(streams cli.IOStreams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "hint",
		Short: "Show the next hint, from gentle to nearly the answer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			hint, n, total, err := lab.NextHint(dir, name)
			if err != nil {
				return err
			}
			more := "next: ckslab hint" + nameFlag(name)
			if n == total {
				more = "that was the last hint; from now on ckslab grade names everything; ckslab solve" + nameFlag(name) + " performs the reference solution"
			}
			_, err = fmt.Fprintf(streams.Out, "Hint %d of %d: %s\n(%s)\n", n, total, hint, more)
			return err
		},
	}
	addName(c, &name)
	return c
}

// NewSolveCommand returns `ckslab solve`.
func NewSolveCommand(streams cli.IOStreams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "solve",
		Short: "Perform the reference solution on the lab, the way a learner would",
		Long: `Perform the scenario's reference solution in the exam terminal, step by step, the way a
learner would: Falco's rule output, a capture of more than 30 s, the scale-down. Each step is
checked after it runs (the rule's output changed, the answer file holds case 1's alerts, the
Deployments are at 0); a step whose work is not done stops solve, naming the step and what
was seen. On a lab without Falco, the steps that need it are skipped, saying why, and the
rest is done. Solve ends with the grade's score line and exits with the grade's code (0 all
checks pass, 1 some fail, 2 could not grade); from now on grades name everything, as --reveal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			// The solution names the offenders: later grades need not hide them.
			if err := lab.MarkRevealed(dir, name, lab.RevealedBySolve); err != nil {
				return err
			}
			st := status.New(streams.ErrOut, cli.IsTerminal(streams.ErrOut))
			results, err := lab.Solve(cmd.Context(), dir, name, st, streams.Out)
			if verbosity(cmd) > 0 || err != nil {
				for _, r := range results {
					if r.Output != "" {
						fmt.Fprintf(streams.ErrOut, "--- %s\n%s", r.Step.Title, r.Output)
					}
				}
			}
			if err != nil {
				return err
			}
			// The solution is done when the grade says so: end with its score and exit with its code.
			report, err := lab.Grade(cmd.Context(), dir, name, lab.WithReveal(true))
			if err != nil {
				return &cli.ExitError{Code: grader.ExitCannotGrade, Err: fmt.Errorf("the reference solution ran, but the lab could not be graded: %w", err)}
			}
			sum := report.Summary()
			next := "the report: ckslab grade" + nameFlag(name)
			if sum.ExitCode != grader.ExitPass {
				next = "the reference solution did not pass; see which checks fail: ckslab grade" + nameFlag(name)
			}
			if _, err := fmt.Fprintf(streams.Out, "Graded: %s %s\n", grader.SummaryLine(report), next); err != nil {
				return err
			}
			if sum.ExitCode != grader.ExitPass {
				return &cli.ExitError{Code: sum.ExitCode}
			}
			return nil
		},
	}
	addName(c, &name)
	return c
}

// NewResetCommand returns `ckslab reset`.
func NewResetCommand(streams cli.IOStreams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "reset",
		Short: "Re-arm the scenario without recreating the cluster",
		Long: `Re-arm the scenario on the existing cluster in seconds: the offenders and decoys as at
the start, your answer file moved aside (renamed with the time, never deleted), all of
/etc/falco as the lab made it (edited files restored, files you added removed), the
offenders' container ids recorded again, the hints from the first,
the task's clock started again. Your kept grades stay, and so do revealed names (after
solve or the last hint): reset brings back the same names.

On a lab of the auditing scenario: the API server's original manifest and the basic
policy back (your files moved aside on the control plane, never deleted), the audit log
removed, the API server waited for.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := cacheDir()
			if err != nil {
				return err
			}
			st := status.New(streams.ErrOut, cli.IsTerminal(streams.ErrOut))
			if err := lab.Reset(cmd.Context(), dir, name, st, streams.Out); err != nil {
				return err
			}
			_, err = fmt.Fprintf(streams.Out, "Lab %q is re-armed. The task: ckslab task%s\n", name, nameFlag(name))
			return err
		},
	}
	addName(c, &name)
	return c
}

// NewScenariosCommand returns `ckslab scenarios`.
func NewScenariosCommand(streams cli.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "List the scenarios: id, title, exam domain, time budget",
		Long: `List the scenarios ckslab makes labs for. Make one with ckslab up --scenario ID
(default falco-runtime); read its task first with ckslab task --scenario ID.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTITLE\tDOMAIN\tTIME\tLAB")
			for _, id := range scenarios.List() {
				sc, err := scenarios.Load(id)
				if err != nil {
					return err
				}
				def := ""
				if id == lab.ScenarioID {
					def = " (default)"
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", id, def, sc.Metadata.Title, sc.Metadata.Domain, strings.TrimSuffix(sc.Metadata.TimeBudget.String(), "0s"), sc.Spec.Cluster)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err := fmt.Fprintln(streams.Out, "\nMake a lab: ckslab up --scenario ID. Read a task first: ckslab task --scenario ID.")
			return err
		},
	}
}
