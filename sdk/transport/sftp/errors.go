package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
	pkgsftp "github.com/pkg/sftp"
)

// classify turns an error from an operation into an *sdk.Error. Errors that are
// already classified pass through unchanged.
func (c *Client) classify(ctx context.Context, op, rel string, err error) error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	if ce := ctxError(ctx, err); ce != nil {
		ce.Message = fmt.Sprintf("%s %q on %s: %s", op, rel, c.addr, ce.Message)
		return ce
	}
	where := fmt.Sprintf("%s %q on %s", op, rel, c.addr)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceCarrier, Message: where + ": no such file or directory"}
	case errors.Is(err, os.ErrPermission):
		return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier, Message: where + ": permission denied"}
	}
	var st *pkgsftp.StatusError
	if errors.As(err, &st) {
		return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
			Message:     fmt.Sprintf("%s: %v", where, err),
			CarrierCode: fmt.Sprint(st.FxCode()), CarrierMessage: err.Error()}
	}
	// Anything else is the connection failing under the request; the server may
	// or may not have acted on it.
	if connectionLost(err) {
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("%s: connection lost: %v", where, err)}
	}
	return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: fmt.Sprintf("%s: %v", where, err)}
}

func connectionLost(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &ne) ||
		errors.Is(err, os.ErrClosed) || strings.Contains(err.Error(), "connection lost")
}

// ctxError classifies a context ending; it returns nil when ctx has not ended.
func ctxError(ctx context.Context, err error) *sdk.Error {
	if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return nil
	}
	cause := ctx.Err()
	if cause == nil {
		cause = err
	}
	if errors.Is(cause, context.Canceled) {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: "the call was cancelled"}
	}
	return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceConnector, Message: "the deadline passed"}
}

// dialError classifies a failed TCP connect: nothing was sent.
func dialError(ctx context.Context, addr string, err error) error {
	if e := egress.Refused(err); e != nil {
		return e
	}
	if ce := ctxError(ctx, err); ce != nil {
		ce.NotSent = true
		ce.Message = fmt.Sprintf("connecting to %s: %s", addr, ce.Message)
		return ce
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceCarrier, NotSent: true,
			Message: fmt.Sprintf("connecting to %s: timed out", addr)}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, NotSent: true,
		Message: fmt.Sprintf("connecting to %s: %v", addr, err)}
}

// handshakeError classifies a failed SSH handshake. No file operation has
// happened yet, so every outcome is NotSent.
func handshakeError(ctx context.Context, addr string, hk *hostKeyChecker, err error, ctxEnded bool) error {
	if hk.failure != nil {
		return hk.failure
	}
	if ctxEnded {
		if ce := ctxError(ctx, context.DeadlineExceeded); ce != nil {
			ce.NotSent = true
			ce.Message = fmt.Sprintf("ssh handshake with %s: %s", addr, ce.Message)
			return ce
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &sdk.Error{Code: sdk.CodeTimeout, Source: sdk.SourceCarrier, NotSent: true,
			Message: fmt.Sprintf("ssh handshake with %s: timed out", addr)}
	}
	// golang.org/x/crypto/ssh has no typed error for refused credentials; its
	// message is stable ("ssh: unable to authenticate, attempted methods ...") and
	// names only method names, never credentials.
	if hk.passed && strings.Contains(err.Error(), "unable to authenticate") {
		return &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceCarrier, NotSent: true,
			Message: fmt.Sprintf("ssh login to %s refused: the server did not accept the credentials", addr)}
	}
	return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier, NotSent: true,
		Message: fmt.Sprintf("ssh handshake with %s: %v", addr, err)}
}

func sortInfos(fs []FileInfo) {
	slices.SortFunc(fs, func(a, b FileInfo) int { return strings.Compare(a.Name, b.Name) })
}
