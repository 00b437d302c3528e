"""Stand-ins for a Kubernetes cluster, for the tests and the no-cluster sandbox."""
