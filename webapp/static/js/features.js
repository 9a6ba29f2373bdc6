// Screens whose JSON API endpoints this server does not have yet stay off (no fake
// endpoints): fund requests and reward points come with the distribution network's API.
export const FEATURES = {
  fundRequests: false,
  rewardPoints: false,
};
