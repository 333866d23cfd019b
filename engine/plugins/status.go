package plugins

import (
	"time"

	"github.com/carrierhub/hub/sdk"
)

// State is where a connector's process is in its life.
type State string

// Process states.
const (
	// StateIdle: not running; the next call starts it.
	StateIdle State = "idle"
	// StateStarting: launched, waiting for the handshake.
	StateStarting State = "starting"
	// StateRunning: serving calls.
	StateRunning State = "running"
	// StateCrashed: exited unexpectedly; the next call restarts it after a backoff.
	StateCrashed State = "crashed"
	// StateStopped: shut down with the hub.
	StateStopped State = "stopped"
	// StateGaveUp: crashed Config.MaxCrashes times in a row without staying up;
	// the hub no longer restarts it and fails its calls at once, until the hub
	// restarts. Status.LastError says why it last exited.
	StateGaveUp State = "gave_up"
)

// Status is a snapshot of one connector's process.
type Status struct {
	State     State     `json:"state"`
	PID       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// Restarts counts unexpected exits since the hub started.
	Restarts  int       `json:"restarts"`
	LastError string    `json:"last_error,omitempty"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	InFlight  int       `json:"in_flight"`
}

// Info is a connector known to the manager: its manifest and its process status.
type Info struct {
	Manifest *sdk.Manifest `json:"manifest"`
	// Builtin is true for connectors compiled into the hub binary.
	Builtin bool   `json:"builtin"`
	Status  Status `json:"status"`
}

// Health is the answer to a health probe of one connector.
type Health struct {
	Status Status `json:"status"`
	// CheckSupported is true when the connector has its own health check.
	CheckSupported bool `json:"check_supported"`
	// CheckError is the connector's health-check failure, if any.
	CheckError *sdk.Error `json:"check_error,omitempty"`
}
