// kstatus-oracle: the verdict of sigs.k8s.io/cli-utils/pkg/kstatus/status (the library Flux's
// health checks use) for each Kubernetes object read from stdin.
//
// Input: a stream of JSON objects, one after another (whitespace between them is ignored).
// Output: one JSON line per object, in the same order: {"status": ..., "message": ...}, or
// {"error": ...} when kstatus cannot compute a verdict for it.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func compute(raw json.RawMessage) verdict {
	obj := &unstructured.Unstructured{}
	// UnmarshalJSON decodes numbers as int64, as a client reading from the apiserver does.
	if err := obj.UnmarshalJSON(raw); err != nil {
		return verdict{Error: err.Error()}
	}
	result, err := status.Compute(obj)
	if err != nil {
		return verdict{Error: err.Error()}
	}
	return verdict{Status: result.Status.String(), Message: result.Message}
}

func main() {
	decoder := json.NewDecoder(bufio.NewReader(os.Stdin))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	for {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			fmt.Fprintln(os.Stderr, "kstatus-oracle: reading stdin:", err)
			os.Exit(2)
		}
		if err := encoder.Encode(compute(raw)); err != nil {
			fmt.Fprintln(os.Stderr, "kstatus-oracle: writing stdout:", err)
			os.Exit(2)
		}
	}
}
