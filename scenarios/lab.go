package scenarios

// InstantiateFor is Instantiate for a lab whose cluster is named otherwise
// than the scenario file's (several labs side by side): node names, texts,
// hints and solution steps all follow the lab's name.
func (s *Scenario) InstantiateFor(seed int64, cluster string) (*Instance, error) {
	c := *s
	c.Spec.Cluster = cluster
	return c.Instantiate(seed)
}
