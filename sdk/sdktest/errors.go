package sdktest

import (
	"errors"
	"testing"

	"github.com/carrierhub/hub/sdk"
)

// Error returns err as the *sdk.Error a connector or transport must fail with
// (anywhere in its chain), and stops the test when err is nil or not one.
func Error(t testing.TB, err error) *sdk.Error {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
	}
	return e
}
