/// Everyday requests with no tools involved: `colony learn` has the base model answer them
/// once, and the loss of each new version on those answers measures what learning the tasks
/// cost the model elsewhere (forgetting).
///
/// `replay` is a second, disjoint set: the base's answers to it are mixed into every round's
/// training data so the adapter keeps the base's everyday behaviour; `all` stays unseen by
/// training, so the forgetting measure is not trained on.
public enum GeneralPrompts {
    public static let all = [
        "Write a haiku about the sea.", "What is the capital of France?", "Give me three tips for sleeping better.",
        "Explain what a noun is in one sentence.", "Say hello in Spanish.", "What colour is the sky on a clear day?",
        "Name two fruits that are red.", "Describe a cat in one sentence.", "What do bees make?", "Suggest a name for a small dog.",
        "Why do we need water?", "What is a good breakfast?", "Tell me a short fun fact about the moon.",
        "How many days are in a week?", "What is the opposite of hot?", "Write one sentence about autumn.",
        "What is rain made of?", "Give a synonym for happy.", "What does a doctor do?", "Describe a tree in a few words.",
    ]

    public static let replay = [
        "Write a short poem about the wind.", "What is the capital of Italy?", "Give me two tips for studying.",
        "Explain what a verb is in one sentence.", "Say thank you in French.", "What colour is grass?",
        "Name two animals that live in the sea.", "Describe a dog in one sentence.", "What do cows give us?",
        "Suggest a name for a goldfish.", "Why do plants need sunlight?", "What is a healthy lunch?",
        "Tell me a short fun fact about the sun.", "How many months are in a year?", "What is the opposite of fast?",
        "Write one sentence about winter.", "What is snow made of?", "Give a synonym for big.", "What does a teacher do?",
        "Describe a flower in a few words.", "What is the largest ocean?", "How do you make tea?",
        "What sound does a duck make?", "Name a musical instrument with strings.",
    ]
}
