// Package checklog is `ckslab check-log`: grade an answer file alone,
// without a cluster.
package checklog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/grader/answerfile"
	"github.com/ckslab/ckslab/internal/cli"
	"github.com/ckslab/ckslab/internal/version"
)

type flagpole struct {
	containerIDs  []string
	containerName string
	user          string
	minSpan       time.Duration
	interval      time.Duration
	maxSize       string
	output        string
}

// NewCommand returns the check-log command.
func NewCommand(streams cli.IOStreams) *cobra.Command {
	flags := &flagpole{}
	c := &cobra.Command{
		Use:   "check-log PATH --container-id ID [--container-id ID...]",
		Short: "Grade a Falco answer file alone, without a lab",
		Long: `Grade an answer file of the Falco task (checks 1-4 of the scenario) without a cluster:
the file is a readable text file; every line is time-with-nanoseconds,container-id,
container-name,user-name; every line is an alert of the offending container; the
capture spans at least --min-span, in order (crossing midnight once is fine).

PATH "-" reads standard input. Instructors use it on collected files; CI uses it on fixtures.

Exit codes: 0 all checks pass (warnings allowed), 1 some check fails,
2 could not grade (missing or unreadable file, bad flags).`,
		Example: `  ckslab check-log /opt/course/2/falco.log --container-id 090aad374a0a --container-name nginx
  ckslab check-log falco.log --container-id 090aad374a0a --container-id 7a5ea6a080d1 -o junit > report.xml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runE(streams, flags, args[0])
		},
	}
	f := c.Flags()
	f.StringSliceVar(&flags.containerIDs, "container-id", nil, "the offending container's id (12, 13 or 64 hex digits); repeat it, or separate with commas, for restarts")
	f.StringVar(&flags.containerName, "container-name", "", "the offending container's name, e.g. nginx (not checked when empty)")
	f.StringVar(&flags.user, "user", answerfile.DefaultUser, "the user the offending process runs as")
	f.DurationVar(&flags.minSpan, "min-span", answerfile.DefaultMinSpan, "the shortest capture accepted, first to last line")
	f.DurationVar(&flags.interval, "interval", 0, "how often the offender misbehaves; warns about gaps longer than 3x (0: no gap check)")
	f.StringVar(&flags.maxSize, "max-size", "10MiB", "the largest file read (KiB, MiB, GiB or bytes)")
	f.StringVarP(&flags.output, "output", "o", string(grader.Text), "report format: "+strings.Join(grader.Formats, ", "))
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(grader.Formats, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("container-id", cobra.NoFileCompletions)
	_ = c.RegisterFlagCompletionFunc("container-name", cobra.NoFileCompletions)
	_ = c.RegisterFlagCompletionFunc("user", cobra.NoFileCompletions)
	return c
}

func usage(format string, args ...any) error {
	return &cli.UsageError{Err: fmt.Errorf(format, args...)}
}

func runE(streams cli.IOStreams, flags *flagpole, path string) error {
	format, err := grader.ParseFormat(flags.output)
	if err != nil {
		return usage("--output: %w", err)
	}
	maxBytes, err := parseSize(flags.maxSize)
	if err != nil {
		return usage("--max-size: %w", err)
	}
	if flags.minSpan <= 0 {
		return usage("--min-span must be positive, e.g. 30s")
	}
	if flags.interval < 0 {
		return usage("--interval must not be negative")
	}
	if flags.user == "" {
		return usage("--user must not be empty")
	}
	var ids []string
	for _, id := range flags.containerIDs {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return usage("--container-id is required: the offending container's id (find it with crictl ps on the node)")
	}
	opts := answerfile.Options{
		ContainerIDs:  ids,
		ContainerName: flags.containerName,
		User:          flags.user,
		MinSpan:       flags.minSpan,
		Interval:      flags.interval,
		MaxBytes:      maxBytes,
	}
	var res answerfile.Result
	if path == "-" {
		res, err = answerfile.CheckReader(streams.In, "standard input", opts)
	} else {
		res, err = answerfile.Check(path, opts)
	}
	if err != nil {
		// Only the options can be wrong here: the file's problems are checks.
		return usage("--container-id: %w", err)
	}
	subject := path
	if path == "-" {
		subject = "standard input"
	}
	report := &grader.Report{Tool: "ckslab", Version: version.Get(), Name: "check-log", Subject: subject, Results: res.Checks}
	if err := grader.Render(streams.Out, report, format, grader.RenderOptions{Color: format == grader.Text && cli.ColorEnabled(streams.Out)}); err != nil {
		return &cli.ExitError{Code: grader.ExitCannotGrade, Err: fmt.Errorf("writing the report: %w", err)}
	}
	if code := report.Summary().ExitCode; code != grader.ExitPass {
		return &cli.ExitError{Code: code}
	}
	return nil
}

// parseSize reads 10MiB, 512KiB, 1GiB or a number of bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 10MiB, 512KiB or 4096")
	}
	if n > (1<<40)/mult {
		return 0, errors.New("size too large")
	}
	return n * mult, nil
}
