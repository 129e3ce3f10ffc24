"""Assertions shared by the model tests."""
import torch


def assert_stepwise_equals_teacher_forced(model, X, lens, Y):
    """Decoding one target step at a time gives the same logits as one teacher-forced call."""
    full = model(X, Y, lens)
    state = model.decoder.init_state(model.encoder(X, lens), lens)
    steps = []
    for t in range(Y.shape[1]):
        logits, state = model.decoder(Y[:, t:t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full)
