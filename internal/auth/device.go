package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Device tokens implement OWASP's device-cookie scheme against targeted
// lockout: a client that completed a sign-in receives a token bound to
// that user, and presenting it on a later password sign-in lets it skip
// the account-wide delay that failures from elsewhere cause, while it
// keeps a counter of its own (ratelimit.Policy.Device). It proves only
// "this client signed in to this account before": it never signs anyone
// in and never skips a check, only a delay.
//
// Form: "ldt_" + base64url(version 1 || user id (16) || device id (16) ||
// issued at, Unix seconds (8) || HMAC-SHA-256 of the rest under the
// server secret (32)). Nothing is stored: the MAC is the proof.

const (
	devicePrefix  = "ldt_"
	deviceVersion = 1
	deviceBody    = 1 + 16 + 16 + 8
	deviceMACLen  = 32
	// DeviceTokenTTL is how long a device token is honoured after the
	// sign-in that issued it; each sign-in with it issues a fresh one.
	DeviceTokenTTL = 180 * 24 * time.Hour
)

// newDeviceToken issues a device token for userID. A sign-in that
// presented a valid one for the same user keeps its device id, so the
// device's own counter follows it.
func (s *Service) newDeviceToken(userID, deviceID string) string {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return ""
	}
	var did [16]byte
	if d, err := hex.DecodeString(deviceID); err == nil && len(d) == 16 {
		copy(did[:], d)
	} else {
		rand.Read(did[:])
	}
	b := make([]byte, 0, deviceBody+deviceMACLen)
	b = append(b, deviceVersion)
	b = append(b, uid[:]...)
	b = append(b, did[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.now().Unix()))
	b = append(b, s.mac.MAC("device token", b)...)
	return devicePrefix + base64.RawURLEncoding.EncodeToString(b)
}

// deviceOf returns the device id of tok when it is a device token this
// server issued to userID within DeviceTokenTTL; "" otherwise. Anything
// else, a forged, foreign or expired token included, is simply no
// device: the attempt meets the account-wide rule.
func (s *Service) deviceOf(tok, userID string) string {
	raw, ok := strings.CutPrefix(tok, devicePrefix)
	if !ok || len(raw) != base64.RawURLEncoding.EncodedLen(deviceBody+deviceMACLen) {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != deviceBody+deviceMACLen || b[0] != deviceVersion {
		return ""
	}
	body, mac := b[:deviceBody], b[deviceBody:]
	if !hmac.Equal(mac, s.mac.MAC("device token", body)) {
		return ""
	}
	uid, err := uuid.Parse(userID)
	if err != nil || !bytes.Equal(body[1:17], uid[:]) {
		return ""
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[33:41])), 0)
	if age := s.now().Sub(issued); age < -time.Minute || age > DeviceTokenTTL {
		return ""
	}
	return hex.EncodeToString(body[17:33])
}
