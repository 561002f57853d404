package main

import (
	"fmt"
	"sync"

	"github.com/go-logr/logr"
)

// maxLogEntries bounds what one simulation keeps of Karpenter's log (a run of thousands of
// pods logs per pod at V(1)); the count of entries dropped is reported.
const maxLogEntries = 2000

// timedOutMessage is what Karpenter's scheduler logs when Solve's deadline ends the round
// (sigs.k8s.io/karpenter pkg/controllers/provisioning/scheduling/scheduler.go, Solve): the pods
// it had not tried are neither in the results nor in their errors.
const timedOutMessage = "scheduling simulation timed out"

type logEntry struct {
	Level   int               `json:"level"`
	Error   string            `json:"error,omitempty"`
	Message string            `json:"message"`
	Values  map[string]string `json:"values,omitempty"`
	Logger  string            `json:"logger,omitempty"`
}

// logRecorder is a logr sink that keeps Karpenter's log entries up to V(1) (Karpenter logs
// warnings as V(0) and the scheduler's timeout as V(1)) instead of discarding them.
type logRecorder struct {
	mu      *sync.Mutex
	entries *[]logEntry
	dropped *int
	name    string
	values  []any
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, entries: &[]logEntry{}, dropped: new(int)}
}

func (r *logRecorder) Init(logr.RuntimeInfo) {}

func (r *logRecorder) Enabled(level int) bool { return level <= 1 }

func (r *logRecorder) Info(level int, msg string, keysAndValues ...any) {
	r.record(level, nil, msg, keysAndValues)
}

func (r *logRecorder) Error(err error, msg string, keysAndValues ...any) {
	r.record(0, err, msg, keysAndValues)
}

func (r *logRecorder) WithValues(keysAndValues ...any) logr.LogSink {
	copied := *r
	copied.values = append(append([]any{}, r.values...), keysAndValues...)
	return &copied
}

func (r *logRecorder) WithName(name string) logr.LogSink {
	copied := *r
	if copied.name != "" {
		name = copied.name + "." + name
	}
	copied.name = name
	return &copied
}

func (r *logRecorder) record(level int, err error, msg string, keysAndValues []any) {
	entry := logEntry{Level: level, Message: msg, Logger: r.name}
	if err != nil {
		entry.Error = err.Error()
	}
	all := append(append([]any{}, r.values...), keysAndValues...)
	if len(all) > 0 {
		entry.Values = map[string]string{}
		for i := 0; i+1 < len(all); i += 2 {
			entry.Values[fmt.Sprint(all[i])] = fmt.Sprint(all[i+1])
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(*r.entries) >= maxLogEntries {
		*r.dropped++
		return
	}
	*r.entries = append(*r.entries, entry)
}

// snapshot returns the entries kept, how many were dropped, and whether the scheduler said
// its deadline ended the round.
func (r *logRecorder) snapshot() ([]logEntry, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	timedOut := false
	for _, entry := range *r.entries {
		if entry.Message == timedOutMessage {
			timedOut = true
		}
	}
	return append([]logEntry{}, *r.entries...), *r.dropped, timedOut
}
