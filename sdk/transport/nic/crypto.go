package nic

import (
	"bytes"
	"crypto/aes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"

	"github.com/carrierhub/hub/sdk"
)

// KeySize is the size in bytes of every AES key NIC uses: the app key, the SEK and the REK.
const KeySize = 32

// Layering says what is encrypted under the SEK in a request or response payload.
type Layering int

const (
	// LayerBase64JSON encrypts Base64(JSON): NIC's EWB pages describe write payloads
	// as Encrypt(Base64(Request JSON), sek) and responses the same way.
	LayerBase64JSON Layering = iota + 1
	// LayerJSON encrypts the JSON bytes themselves, as the IRP (e-Invoice) samples do.
	LayerJSON
)

// String names the layering.
func (l Layering) String() string {
	switch l {
	case LayerBase64JSON:
		return "base64-json"
	case LayerJSON:
		return "json"
	}
	return fmt.Sprintf("layering(%d)", int(l))
}

// cryptoErr reports that data from NIC could not be decrypted or verified. Retrying
// the same bytes cannot help, so it is permanent; the message never holds key material.
func cryptoErr(format string, args ...any) *sdk.Error {
	return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector, Message: "nic: " + fmt.Sprintf(format, args...)}
}

// keyErr reports a key of the wrong size handed in by the caller: a bug or a bad
// configuration on our side, never something NIC can fix.
func keyErr(what string, n int) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
		Message: fmt.Sprintf("nic: %s is %d bytes, want %d", what, n, KeySize)}
}

// ParsePublicKey reads NIC's published public key: a PEM block (PUBLIC KEY,
// RSA PUBLIC KEY or CERTIFICATE) or the bare Base64 DER NIC also hands out.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		der = block.Bytes
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, sdk.Errorf(sdk.CodeInvalidRequest, "nic: reading public key certificate: %v", err)
			}
			pub, ok := cert.PublicKey.(*rsa.PublicKey)
			if !ok {
				return nil, sdk.Errorf(sdk.CodeInvalidRequest, "nic: certificate key is %T, not RSA", cert.PublicKey)
			}
			return pub, nil
		}
	} else if dec, err := base64.StdEncoding.DecodeString(string(trimSpace(data))); err == nil {
		der = dec
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, sdk.Errorf(sdk.CodeInvalidRequest, "nic: public key is %T, not RSA", k)
		}
		return pub, nil
	}
	if pub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return pub, nil
	}
	return nil, sdk.Errorf(sdk.CodeInvalidRequest, "nic: public key is neither PEM nor Base64 DER (PKIX or PKCS#1)")
}

func trimSpace(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			out = append(out, c)
		}
	}
	return out
}

// EncryptLogin builds the value of the login request's "Data" field:
// Base64(RSA-PKCS#1-v1.5(pub, Base64(payload))). The payload is the credentials
// JSON; it must fit in one RSA block once Base64-encoded (k-11 bytes: 245 for
// NIC's 2048-bit key).
//
// PKCS#1 v1.5 encryption is deprecated in Go for good reasons, but it is what NIC
// decrypts (RSA/ECB/PKCS1Padding); the envelope only carries the login to NIC.
func EncryptLogin(pub *rsa.PublicKey, payload []byte) (string, error) {
	if pub == nil {
		return "", &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: "nic: no NIC public key configured"}
	}
	inner := base64.StdEncoding.EncodeToString(payload)
	if max := pub.Size() - 11; len(inner) > max {
		return "", &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("nic: login payload is %d bytes after Base64, over the %d an RSA-%d PKCS#1 v1.5 block holds (credentials too long)", len(inner), max, pub.Size()*8)}
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(inner))
	if err != nil {
		return "", &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: "nic: rsa encryption of the login payload: " + err.Error()}
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// NewAppKey returns 32 random bytes to use as a login's app key. rnd may be nil for crypto/rand.
func NewAppKey(rnd io.Reader) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	k := make([]byte, KeySize)
	if _, err := io.ReadFull(rnd, k); err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: "nic: generating app key: " + err.Error()}
	}
	return k, nil
}

// EncryptECB encrypts plaintext with AES-256 in ECB mode after PKCS#7 padding
// (which always adds 1 to 16 bytes, so the output is 16 to 16n+16 bytes long).
// Go has no ECB mode on purpose; NIC requires it, so it is done block by block here.
func EncryptECB(key, plaintext []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, keyErr("aes key", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, keyErr("aes key", len(key))
	}
	const bs = aes.BlockSize
	pad := bs - len(plaintext)%bs
	out := make([]byte, len(plaintext)+pad)
	copy(out, plaintext)
	for i := len(plaintext); i < len(out); i++ {
		out[i] = byte(pad)
	}
	for i := 0; i < len(out); i += bs {
		block.Encrypt(out[i:i+bs], out[i:i+bs])
	}
	return out, nil
}

// DecryptECB reverses EncryptECB. The ciphertext must be a non-zero multiple of 16
// bytes; the PKCS#7 padding is checked in constant time (every byte of the last
// block is examined whatever the pad value), and a bad pad is reported without
// saying which byte was wrong.
func DecryptECB(key, ciphertext []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, keyErr("aes key", len(key))
	}
	const bs = aes.BlockSize
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, cryptoErr("aes-ecb ciphertext is %d bytes, not a non-zero multiple of %d", len(ciphertext), bs)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, keyErr("aes key", len(key))
	}
	out := make([]byte, len(ciphertext))
	for i := 0; i < len(out); i += bs {
		block.Decrypt(out[i:i+bs], ciphertext[i:i+bs])
	}
	n, ok := unpadPKCS7(out[len(out)-bs:])
	if !ok {
		return nil, cryptoErr("aes-ecb plaintext has invalid PKCS#7 padding (wrong key or corrupted data)")
	}
	return out[:len(out)-n], nil
}

// unpadPKCS7 returns the pad length of a final 16-byte block and whether it is valid,
// in time independent of the block's contents.
func unpadPKCS7(last []byte) (int, bool) {
	n := last[len(last)-1]
	// good = 1 iff 1 <= n <= 16.
	good := subtle.ConstantTimeLessOrEq(1, int(n)) & subtle.ConstantTimeLessOrEq(int(n), len(last))
	for i := 0; i < len(last); i++ {
		// Position i (counted from the end, 1-based) is padding iff pos <= n.
		pos := len(last) - i
		inPad := subtle.ConstantTimeLessOrEq(pos, int(n))
		eq := subtle.ConstantTimeByteEq(last[i], n)
		// If in the pad, the byte must equal n.
		good &= eq | (inPad ^ 1)
	}
	return int(n), good == 1
}

// DecryptSEK decrypts the login response's sek (Base64 of AES-256-ECB/PKCS7 under
// the app key) into the 32-byte session key.
func DecryptSEK(appKey []byte, encSEK string) ([]byte, error) {
	if len(appKey) != KeySize {
		return nil, keyErr("app key", len(appKey))
	}
	return decryptKey(appKey, encSEK, "sek")
}

func decryptKey(key []byte, enc, what string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, cryptoErr("%s is not valid Base64", what)
	}
	k, err := DecryptECB(key, ct)
	if err != nil {
		return nil, cryptoErr("decrypting %s: %s", what, sdk.AsError(err).Message)
	}
	if len(k) != KeySize {
		return nil, cryptoErr("decrypted %s is %d bytes, want %d", what, len(k), KeySize)
	}
	return k, nil
}

// Seal encrypts a JSON payload with the SEK for a request's data field:
// Base64(AES-256-ECB(sek, inner)) where inner is Base64(JSON) or the JSON itself,
// as layering says.
func Seal(sek, jsonPayload []byte, layering Layering) (string, error) {
	inner := jsonPayload
	switch layering {
	case LayerBase64JSON:
		inner = make([]byte, base64.StdEncoding.EncodedLen(len(jsonPayload)))
		base64.StdEncoding.Encode(inner, jsonPayload)
	case LayerJSON:
	default:
		return "", &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: "nic: unknown payload layering " + layering.String()}
	}
	ct, err := EncryptECB(sek, inner)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// Open decrypts a response's data field with the SEK and returns the JSON. It
// accepts both layerings: a plaintext that starts with { or [ is JSON already
// (those bytes are not in the Base64 alphabet); anything else is Base64 of JSON.
func Open(sek []byte, data string) ([]byte, error) {
	pt, err := openRaw(sek, data, "data")
	if err != nil {
		return nil, err
	}
	return unlayer(pt)
}

func openRaw(key []byte, data, what string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, cryptoErr("response %s is not valid Base64", what)
	}
	pt, err := DecryptECB(key, ct)
	if err != nil {
		return nil, cryptoErr("decrypting response %s: %s", what, sdk.AsError(err).Message)
	}
	return pt, nil
}

func unlayer(pt []byte) ([]byte, error) {
	trimmed := bytes.TrimPrefix(bytes.TrimLeft(pt, " \t\r\n"), []byte("\xef\xbb\xbf"))
	trimmed = bytes.TrimLeft(trimmed, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return trimmed, nil
	}
	js, err := base64.StdEncoding.DecodeString(string(pt))
	if err != nil {
		return nil, cryptoErr("decrypted data is neither JSON nor Base64 of JSON")
	}
	return js, nil
}

// RekResponse is the encrypted part of an EWB GET response.
type RekResponse struct {
	// Data is Base64(AES-256-ECB(rek, Base64(JSON))).
	Data string
	// Rek is Base64(AES-256-ECB(sek, rek)).
	Rek string
	// HMAC is Base64(HMAC-SHA256(rek, Base64(JSON))).
	HMAC string
}

// OpenREK decrypts an EWB GET response: the REK with the SEK, then the data with
// the REK, and checks the HMAC-SHA256 of the Base64 JSON under the REK in
// constant time before returning the JSON. A missing or wrong hmac is an error.
func OpenREK(sek []byte, r RekResponse) ([]byte, error) {
	if len(sek) != KeySize {
		return nil, keyErr("sek", len(sek))
	}
	if r.Data == "" || r.Rek == "" {
		return nil, cryptoErr("GET response lacks data or rek")
	}
	rek, err := decryptKey(sek, r.Rek, "rek")
	if err != nil {
		return nil, err
	}
	inner, err := openRaw(rek, r.Data, "data")
	if err != nil {
		return nil, err
	}
	want, err := base64.StdEncoding.DecodeString(r.HMAC)
	if err != nil || len(want) != sha256.Size {
		return nil, cryptoErr("GET response hmac is missing or not Base64 of 32 bytes")
	}
	mac := hmac.New(sha256.New, rek)
	mac.Write(inner)
	if !hmac.Equal(mac.Sum(nil), want) {
		return nil, cryptoErr("GET response hmac does not match its data (tampered or wrong session key)")
	}
	return unlayer(inner)
}

// SealREK builds an EWB GET response's encrypted fields from JSON, a fresh REK and
// the SEK, the way NIC does. Simulators and tests use it; connectors only open.
func SealREK(sek, rek, jsonPayload []byte) (RekResponse, error) {
	inner := []byte(base64.StdEncoding.EncodeToString(jsonPayload))
	data, err := EncryptECB(rek, inner)
	if err != nil {
		return RekResponse{}, err
	}
	encRek, err := EncryptECB(sek, rek)
	if err != nil {
		return RekResponse{}, err
	}
	mac := hmac.New(sha256.New, rek)
	mac.Write(inner)
	return RekResponse{
		Data: base64.StdEncoding.EncodeToString(data),
		Rek:  base64.StdEncoding.EncodeToString(encRek),
		HMAC: base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	}, nil
}
