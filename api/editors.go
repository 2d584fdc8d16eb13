package api

import (
	"context"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/signing"
)

// SubscriptionEditor creates, changes and re-keys subscriptions for the API and the
// dashboard alike, so that both check a subscription the same way (its fields, then the
// egress policy on its URL) and give it the same kind of key.
type SubscriptionEditor struct {
	Store hookflow.SubscriptionService
	URLs  URLChecker
}

// Create validates a new subscription, checks its URL, mints its key in the signature
// scheme it chose and stores it. The answer holds the key: whoever shows it decides
// whether the secret is shown (a whsk_ signing key never is).
func (e SubscriptionEditor) Create(ctx context.Context, accountID string, in hookflow.SubscriptionUpdate) (hookflow.Subscription, error) {
	if in.URL == nil {
		return hookflow.Subscription{}, hookflow.Invalid("url", "is required")
	}
	sub := hookflow.NewSubscription(in)
	if err := sub.Validate(); err != nil {
		return hookflow.Subscription{}, err
	}
	if e.URLs != nil {
		if err := e.URLs.CheckURL(ctx, sub.URL); err != nil {
			return hookflow.Subscription{}, err
		}
	}
	key, err := signing.NewKey(signing.Scheme(sub.SignatureScheme))
	if err != nil {
		return hookflow.Subscription{}, err
	}
	sub.SecretKey = key
	if err := e.Store.CreateSubscription(ctx, accountID, &sub); err != nil {
		return hookflow.Subscription{}, err
	}
	return sub, nil
}

// Update applies the given fields; the result is validated as a whole. Another account's
// id is ENOTFOUND whatever the update says, and a new URL is looked up before the row is
// locked (CheckNewURL). A new signature scheme is a rotation, which the store makes:
// rekeyed says so, for the new key to be shown as a rotation's is.
func (e SubscriptionEditor) Update(ctx context.Context, accountID, id string, in hookflow.SubscriptionUpdate) (sub hookflow.Subscription, rekeyed bool, err error) {
	before, err := e.Store.FindSubscription(ctx, accountID, id)
	if err != nil {
		return hookflow.Subscription{}, false, err
	}
	if err := CheckNewURL(ctx, e.URLs, in); err != nil {
		return hookflow.Subscription{}, false, err
	}
	sub, err = e.Store.UpdateSubscription(ctx, accountID, id, in, (*hookflow.Subscription).Validate)
	if err != nil {
		return hookflow.Subscription{}, false, err
	}
	return sub, sub.SecretKey != before.SecretKey, nil
}

// RotateSecret gives the subscription a new key of the scheme it signs in; the replaced
// one keeps signing for hookflow.SecretRotationGrace.
func (e SubscriptionEditor) RotateSecret(ctx context.Context, accountID, id string) (hookflow.Subscription, error) {
	sub, err := e.Store.FindSubscription(ctx, accountID, id)
	if err != nil {
		return hookflow.Subscription{}, err
	}
	key, err := signing.NewKey(signing.Scheme(sub.SignatureScheme))
	if err != nil {
		return hookflow.Subscription{}, err
	}
	return e.Store.RotateSecret(ctx, accountID, id, key, hookflow.SecretRotationGrace)
}

// CampaignEditor creates and re-keys campaigns for the API and the dashboard alike.
type CampaignEditor struct {
	Store hookflow.CampaignService
}

// Create validates a new campaign and stores it with a key minted in the signature
// scheme it chose.
func (e CampaignEditor) Create(ctx context.Context, accountID string, in hookflow.NewCampaign) (hookflow.Campaign, error) {
	if err := in.Validate(); err != nil {
		return hookflow.Campaign{}, err
	}
	key, err := signing.NewKey(signing.Scheme(in.Scheme()))
	if err != nil {
		return hookflow.Campaign{}, err
	}
	return e.Store.CreateCampaign(ctx, accountID, in, key)
}

// RotateSecret gives the campaign a new key, of scheme when one is given (a campaign has
// no other way to change scheme) and else of the one it signs in; the replaced key keeps
// signing for hookflow.SecretRotationGrace.
func (e CampaignEditor) RotateSecret(ctx context.Context, accountID, id string, scheme *hookflow.SignatureScheme) (hookflow.Campaign, error) {
	// Another account's id is ENOTFOUND whatever the scheme.
	c, err := e.Store.FindCampaign(ctx, accountID, id)
	if err != nil {
		return hookflow.Campaign{}, err
	}
	if scheme == nil {
		scheme = &c.SignatureScheme
	} else if err := hookflow.ValidateSignatureScheme(*scheme); err != nil {
		return hookflow.Campaign{}, err
	}
	key, err := signing.NewKey(signing.Scheme(*scheme))
	if err != nil {
		return hookflow.Campaign{}, err
	}
	return e.Store.RotateCampaignSecret(ctx, accountID, id, key, hookflow.SecretRotationGrace)
}
