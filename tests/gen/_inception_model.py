"""The seeded torchvision Inception3 shared by the Inception golden scripts."""
import torch
import torchvision


def build(seed=1234):
    """Inception3 (no aux head) with seeded random weights and BatchNorm
    statistics: real statistics measured on random images (so activations stay
    O(1) through 94 layers in eval mode), then perturbed together with the
    affine parameters so the fold into the convolutions is really exercised.
    Returned in eval mode, float32."""
    torch.set_num_threads(2)  # same reduction order in every script
    torch.manual_seed(seed)
    model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True,
                                            transform_input=False)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 3, 299, 299))
        for m in bns:
            c = m.num_features
            m.running_var.mul_(torch.empty(c).uniform_(0.7, 1.4))
            m.running_mean.add_(0.2 * torch.randn(c) * m.running_var.sqrt())
            m.weight.copy_(torch.empty(c).uniform_(0.6, 1.4))
            m.bias.copy_(torch.empty(c).uniform_(-0.2, 0.3))
    model.eval()
    return model
