package delhivery

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// credentialPushToken names the account credential a push must carry.
const credentialPushToken = "push_token"

// checkPushToken refuses a push that does not carry the account's push_token
// (see ReceivePush); an account without one refuses every push.
func checkPushToken(acct *sdk.Account, push *model.PushRequest) error {
	want, err := acct.Credential(credentialPushToken)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: "the account has no push_token credential; set one and give it to Delhivery as the push's Authorization header"}
	}
	if !pushTokenMatches(want, push.Headers["authorization"], push.Query["token"]) {
		return &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: "the push carries no valid token (Authorization header or token query parameter)"}
	}
	return nil
}

// pushTokenMatches compares the token found in the Authorization header or query
// with the account's, hashing both first so the comparison's time does not
// depend on where they differ or on their lengths.
func pushTokenMatches(want, authorization, query string) bool {
	w := sha256.Sum256([]byte(want))
	match := func(got string) bool {
		g := sha256.Sum256([]byte(got))
		return got != "" && subtle.ConstantTimeCompare(w[:], g[:]) == 1
	}
	auth := strings.TrimSpace(authorization)
	for _, scheme := range []string{"Bearer ", "Token "} {
		if len(auth) > len(scheme) && strings.EqualFold(auth[:len(scheme)], scheme) {
			auth = strings.TrimSpace(auth[len(scheme):])
			break
		}
	}
	return match(auth) || match(query)
}
