// Package configs holds no code: this directory ships the deployment recipes
// (example configuration, crontab line, systemd units, Kubernetes CronJob,
// GitHub Actions workflow, .env example) in the release archives, and its
// tests check that every recipe parses, loads, validates and runs
// backup-creator only with flags that exist. release_test.go checks
// .goreleaser.yaml and the Dockerfiles the same way.
package configs
